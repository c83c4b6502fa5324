"""`scripted:FILE` — canned replies per agent, for tests, demos and audits.

The file (YAML or JSON)::

    model: scripted-demo          # name recorded in the ledger (default "scripted")
    price_as: gpt-4o-mini         # optional: price the fake tokens like this model
    replies:
      planner.onepager:           # "<agent>.<task>" or just "<agent>"
        - {title: ..., ...}       # a mapping is sent as its JSON
      security:
        - error: {status: 429, message: slow down}   # a transient error, then...
        - {verdict: approve, summary: ok, findings: []}
      implementer:
        - raw: "not json at all"  # a raw string, e.g. to exercise the repair path
        - delay_s: 2              # wait before replying (kill tests)
          reply: {...}

Replies for one (run, agent, task) are used in order; the n-th call gets entry n
and the last entry repeats. "n" is counted from the ledger's `llm_calls` rows,
so a resumed run in a new process continues where the old one stopped.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError
from .models import ModelRequest, RawReply, TransientModelError

__all__ = ["ScriptedBackend"]


@dataclass
class ScriptedBackend:
    path: Path
    replies: dict[str, list[Any]]
    model: str = "scripted"
    price_as: str | None = None
    provider: str = "scripted"

    @classmethod
    def from_spec(cls, spec: str, *, repo: Path | None = None) -> ScriptedBackend:
        raw_path = Path(spec.removeprefix("scripted:")).expanduser()
        candidates = [raw_path] if raw_path.is_absolute() else [
            *([repo / raw_path] if repo else []), Path.cwd() / raw_path]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise ConfigError(f"scripted model file {raw_path} not found (looked in "
                              f"{', '.join(str(p) for p in candidates)}); fix the path in "
                              f"[models] or SHIPYARD_MODEL.")
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> ScriptedBackend:
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as exc:
            raise ConfigError(f"scripted model file {path} does not parse: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("replies"), dict):
            raise ConfigError(f"scripted model file {path} needs a top-level `replies:` mapping "
                              f"of agent (or agent.task) to a list of replies.")
        replies = {k: v if isinstance(v, list) else [v] for k, v in data["replies"].items()}
        return cls(path=path, replies=replies, model=str(data.get("model", "scripted")),
                   price_as=data.get("price_as"))

    @property
    def request_params(self) -> dict[str, Any]:
        return {"backend": "scripted", "script": str(self.path)}

    def request(self, req: ModelRequest) -> RawReply:
        entries = self.replies.get(f"{req.agent}.{req.task}") or self.replies.get(req.agent)
        if not entries:
            raise ModelError(f"scripted model {self.path} has no replies for "
                             f"{req.agent}.{req.task} (nor {req.agent}); add them.")
        entry = entries[min(req.call_index, len(entries) - 1)]
        content = self._content(entry)
        prompt_chars = sum(len(m["content"]) for m in req.messages)
        return RawReply(content=content, input_tokens=max(1, prompt_chars // 4),
                        output_tokens=max(1, len(content) // 4),
                        model=self.price_as or self.model, finish_reason="stop")

    def _content(self, entry: Any) -> str:
        if isinstance(entry, dict) and ("delay_s" in entry or "reply" in entry):
            time.sleep(float(entry.get("delay_s", 0)))
            entry = entry.get("reply", {})
        if isinstance(entry, dict) and "error" in entry:
            err = entry["error"] or {}
            status = int(err.get("status", 500))
            message = str(err.get("message", "scripted error"))
            if status in (408, 429) or status >= 500:
                raise TransientModelError(f"HTTP {status}: {message}", status=status)
            raise ModelError(f"HTTP {status}: {message}")
        if isinstance(entry, dict) and "raw" in entry:
            return str(entry["raw"])
        if isinstance(entry, str):
            return entry
        return json.dumps(entry)
