"""The offline trace log: one JSON line per finished span in `<repo>/.shipyard/traces.jsonl`."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExportResult

__all__ = ["JsonlSpanExporter"]

class JsonlSpanExporter:
    """Appends one JSON object per finished span to a file: the offline trace log.

    It satisfies the SDK's `SpanExporter` protocol (export, shutdown,
    force_flush) without subclassing it, so this module does not import the
    SDK until `configure()` runs. Span processors only call those methods.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()  # parallel reviewers end spans from several threads

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.sdk.trace.export import SpanExportResult

        text = "".join(json.dumps(_span_record(s), default=str) + "\n" for s in spans)
        try:
            with self._lock:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                # One write per batch in append mode: lines from concurrent
                # processes sharing the file do not interleave mid-line.
                with self._path.open("a", encoding="utf-8") as fh:
                    fh.write(text)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing is held open between exports."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _span_record(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_span_id": f"{parent.span_id:016x}" if parent is not None else None,
        "kind": span.kind.name,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "attributes": _plain(span.attributes),
        "status": {"code": span.status.status_code.name, "description": span.status.description},
        "events": [{"name": e.name, "time_ns": e.timestamp, "attributes": _plain(e.attributes)}
                   for e in span.events],
        "service": (span.resource.attributes.get("service.name") if span.resource else None),
    }


def _plain(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """OTel attribute values as JSON types: sequences become lists."""
    return {k: list(v) if isinstance(v, tuple | list) else v
            for k, v in (attributes or {}).items()}
