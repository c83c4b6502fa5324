"""One-line summaries of ledger rows for `shipyard log`."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["summarize"]


def _data(row: dict[str, Any], key: str) -> Any:
    try:
        return json.loads(row.get(key) or "null")
    except json.JSONDecodeError:
        return row.get(key)


def summarize(table: str, row: dict[str, Any]) -> str:
    head = f"{row['seq']:>5} {row['ts'][11:19]} {table:<9}"
    if table == "runs":
        return f"{head} run started on {row['base_branch']}@{row['base_sha'][:10]}: {row['feature'][:80]}"
    if table == "llm_calls":
        what = f"{row['agent']}.{row['task']} [{row.get('gate') or '-'}] {row['model']}"
        if row.get("error") and not row.get("response"):
            return f"{head} {what} attempt {row['attempt']} ERROR {row['error'][:100]}"
        params = _data(row, "params") or {}
        flag = " INVALID" if row.get("error") else ""
        return (f"{head} {what} t={params.get('temperature')} in={row['input_tokens']} "
                f"out={row['output_tokens']} ${row['cost_usd'] or 0:.5f} "
                f"{row['latency_s'] or 0:.2f}s{flag}")
    if table == "tool_runs":
        findings = _data(row, "findings") or []
        return (f"{head} {row['name']} [{row.get('gate') or '-'}] {row['status']} "
                f"({len(findings)} findings, {row['duration_s'] or 0:.1f}s)")
    if table == "approvals":
        return (f"{head} {row['gate']} {row['decision'].upper()} by {row['who']}: "
                f"{row.get('comment') or ''}")
    if table == "artifacts":
        return f"{head} {row['kind']} {row['path']} sha256:{row['sha256'][:12]}"
    data = _data(row, "data") or {}
    if row["kind"] == "diff":
        return (f"{head} diff round {data.get('round')} head {str(data.get('head'))[:10]} "
                f"files {', '.join(data.get('files', []))}")
    brief = {k: v for k, v in data.items() if not isinstance(v, (list, dict))} if isinstance(
        data, dict) else data
    return f"{head} {row['kind']} [{row.get('gate') or '-'}] {json.dumps(brief, default=str)[:120]}"
