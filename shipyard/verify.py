"""`shipyard verify`: the ledger chain, approval signatures and provenance envelopes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["verify_repo"]


def verify_repo(repo: Path, run_id: str | None = None) -> dict[str, Any]:
    from .runtime.ledger import Ledger, approval_payload
    from .runtime.workspace import Git

    git = Git.open_repo(repo)
    path = git.path / ".shipyard" / "ledger.db"
    problems: list[str] = []
    if not path.exists():
        return {"ok": False, "rows": 0, "approvals": 0, "attestations": 0,
                "problems": [f"no ledger at {path}; nothing has run in this repository"]}
    ledger = Ledger(path)
    report = ledger.verify()
    if not report.ok:
        where = f"{report.table} row {report.row_id} (seq {report.seq})" if report.table else \
            f"chain head (seq {report.seq})"
        problems.append(f"ledger {where}: {report.problem}")
    if report.ok:
        problems += _check_anchors(git, ledger)
    from .runtime import keys
    from .runtime.attest import verify_attestations

    approvals = 0
    for row in ledger.rows("approvals", run_id=run_id):
        if not row.get("signature"):
            problems.append(f"approvals row {row['id']} (seq {row['seq']}) has no signature")
            continue
        payload = approval_payload(run_id=row["run_id"], gate=row["gate"],
                                   decision=row["decision"], who=row["who"],
                                   comment=row["comment"])
        if not keys.verify(git.path, payload, row["signature"]):
            problems.append(f"approvals row {row['id']} (seq {row['seq']}): signature does not "
                            f"match its content or this repository's key")
        else:
            approvals += 1
    att_dir = git.path / ".shipyard" / "attestations"
    found = sorted(att_dir.glob("*.intoto.jsonl")) if att_dir.exists() else []
    if run_id:
        found = [f for f in found if f.name.startswith(run_id)]
    bad = verify_attestations(git.path, run_id)
    problems += bad
    attestations = len(found) if not bad else 0
    return {"ok": not problems, "rows": report.rows, "approvals": approvals,
            "attestations": attestations, "problems": problems}


def _check_anchors(git: Any, ledger: Any) -> list[str]:
    """Every merge commit carries `Shipyard-Ledger: seq:hash`; the ledger must still agree.

    A rewritten ledger (rows removed and the chain recomputed) verifies on its own, but
    not against the hashes git history recorded when each change merged."""
    out = git.run("log", "--all", "--format=%H %(trailers:key=Shipyard-Ledger,valueonly,separator=%x2C)",
                  check=False)
    problems = []
    head_seq, _ = ledger.head()
    for line in out.splitlines():
        commit, _, anchors = line.partition(" ")
        for anchor in filter(None, (a.strip() for a in anchors.split(","))):
            seq_text, _, digest = anchor.partition(":")
            if not seq_text.isdigit():
                continue
            seq = int(seq_text)
            stored = ledger.hash_at(seq) if seq else "0" * 64
            if seq > head_seq or stored != digest:
                problems.append(f"merge commit {commit[:12]} anchors ledger row seq {seq} with hash "
                                f"{digest[:16]}…, but the ledger has "
                                f"{(stored or 'no such row')[:16]}…: the ledger was rewritten")
    return problems

