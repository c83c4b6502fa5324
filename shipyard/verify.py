"""`shipyard verify`: the ledger chain, approval signatures and provenance envelopes.

Signatures are checked with the user's public key, kept outside the repository
(runtime/keys.py), and that key must be the one each merge commit names in its
`Shipyard-Key:` trailer. Every run that merged must have its attestation; a run
that did not merge (failed, rejected, waiting at a gate) has none to check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["verify_repo"]


def verify_repo(repo: Path, run_id: str | None = None) -> dict[str, Any]:
    from .runtime.ledger import Ledger
    from .runtime.workspace import Git

    git = Git.open_repo(repo)
    path = git.path / ".shipyard" / "ledger.db"
    problems: list[str] = []
    if not path.exists():
        return {"ok": False, "rows": 0, "approvals": 0, "attestations": 0, "not_merged": {},
                "problems": [f"no ledger at {path}; nothing has run in this repository"]}
    ledger = Ledger(path)
    report = ledger.verify()
    if not report.ok:
        where = f"{report.table} row {report.row_id} (seq {report.seq})" if report.table else \
            f"chain head (seq {report.seq})"
        problems.append(f"ledger {where}: {report.problem}")
    merges = _merge_trailers(git)
    if report.ok:
        problems += _check_anchors(merges, ledger)
    problems += _check_key(git.path, merges)
    if run_id is not None and run_id not in ledger.run_ids():
        problems.append(f"no run {run_id!r} in this repository's ledger (`shipyard runs` "
                        f"lists them)")
    approvals, bad = _check_approvals(git.path, ledger, run_id)
    problems += bad
    merged = _merged_runs(ledger, merges)
    attestations, bad = _check_attestations(git.path, merged, run_id)
    problems += bad
    scope = [run_id] if run_id else ledger.run_ids()
    not_merged = {r: _status(ledger, r) for r in scope if r not in merged
                  and r in ledger.run_ids()}
    return {"ok": not problems, "rows": report.rows, "approvals": approvals,
            "attestations": attestations, "not_merged": not_merged, "problems": problems}


def _check_approvals(repo: Path, ledger: Any, run_id: str | None) -> tuple[int, list[str]]:
    from .runtime import keys
    from .runtime.ledger import approval_payload

    ok, problems = 0, []
    try:
        pub = keys.load_public_key(repo)
    except keys.KeyError_ as exc:
        pub, key_problem = None, str(exc)
    for row in ledger.rows("approvals", run_id=run_id):
        where = f"approvals row {row['id']} (seq {row['seq']})"
        if not row.get("signature"):
            problems.append(f"{where} has no signature")
            continue
        if pub is None:
            problems.append(f"{where}: cannot check the signature: {key_problem}")
            continue
        payload = approval_payload(run_id=row["run_id"], gate=row["gate"],
                                   decision=row["decision"], who=row["who"],
                                   comment=row["comment"], head=row.get("head"))
        if keys.verify_with(pub, payload, row["signature"]):
            ok += 1
        else:
            problems.append(f"{where}: signature does not match its content or your key "
                            f"(approvals are signed with the key in {keys.key_dir(repo)})")
    return ok, problems


def _check_attestations(repo: Path, merged: set[str],
                        run_id: str | None) -> tuple[int, list[str]]:
    """Every merged run (in scope) has an attestation that verifies; others are verified if present."""
    from .runtime.attest import attestation_dir, verify_attestations

    d = attestation_dir(repo)
    present = {p.name.removesuffix(".intoto.jsonl") for p in d.glob("*.intoto.jsonl")} \
        if d.is_dir() else set()
    scope = sorted({run_id} if run_id else merged | present)
    count, problems = 0, []
    for rid in scope:
        if rid not in merged and rid not in present:
            continue  # not merged: no attestation to check
        if rid in merged and rid not in present:
            problems.append(f"run {rid} merged but its attestation {d / (rid + '.intoto.jsonl')} "
                            f"is missing: it was deleted; restore it from a backup")
            continue
        bad = verify_attestations(repo, rid)
        problems += bad
        count += not bad
    return count, problems


def _merge_trailers(git: Any) -> list[dict[str, str]]:
    """The shipyard trailers of every commit in the history that has them."""
    fmt = ("%H%x1f%(trailers:key=Shipyard-Run,valueonly,separator=%x2C)%x1f"
           "%(trailers:key=Shipyard-Ledger,valueonly,separator=%x2C)%x1f"
           "%(trailers:key=Shipyard-Key,valueonly,separator=%x2C)%x1e")
    out = git.run("log", "--all", "--merges", f"--format={fmt}", check=False)
    merges = []
    for rec in out.split("\x1e"):
        parts = [p.strip() for p in rec.strip().split("\x1f")]
        if len(parts) == 4 and (parts[1] or parts[2]):
            merges.append({"commit": parts[0], "run": parts[1], "ledger": parts[2],
                           "key": parts[3]})
    return merges


def _merged_runs(ledger: Any, merges: list[dict[str, str]]) -> set[str]:
    """Runs that merged: by their merge commit, or by the provenance the ledger recorded."""
    runs = {m["run"] for m in merges if m["run"]}
    runs |= {r["run_id"] for r in ledger.rows("artifacts", where="kind = ?",
                                              params=["provenance"])}
    return runs


def _status(ledger: Any, run_id: str) -> str:
    import json

    ended = ledger.rows("events", run_id=run_id, where="kind = ?", params=["run_ended"])
    if not ended:
        return "in progress or waiting at a gate"
    return str(json.loads(ended[-1]["data"] or "{}").get("status", "ended"))


def _check_key(repo: Path, merges: list[dict[str, str]]) -> list[str]:
    """The key verifying signatures must be the key the merge commits name."""
    from .runtime import keys

    named = {m["key"] for m in merges if m["key"]}
    if not named:
        return []
    try:
        current = keys.key_id(keys.load_public_key(repo))
    except keys.KeyError_ as exc:
        return [f"merge commits name signing key(s) {sorted(k[:16] for k in named)}, but {exc}"]
    return [f"merge commit(s) were signed with key {k[:16]}…, but the key in "
            f"{keys.key_dir(repo)} is {current[:16]}…: the key was replaced; restore the "
            f"original or point SHIPYARD_KEYS_DIR at it" for k in sorted(named - {current})]


def _check_anchors(merges: list[dict[str, str]], ledger: Any) -> list[str]:
    """Every merge commit carries `Shipyard-Ledger: seq:hash`; the ledger must still agree.

    A rewritten ledger (rows removed and the chain recomputed) verifies on its own, but
    not against the hashes git history recorded when each change merged."""
    problems = []
    head_seq, _ = ledger.head()
    for m in merges:
        for anchor in filter(None, (a.strip() for a in m["ledger"].split(","))):
            seq_text, _, digest = anchor.partition(":")
            if not seq_text.isdigit():
                continue
            seq = int(seq_text)
            stored = ledger.hash_at(seq) if seq else "0" * 64
            if seq > head_seq or stored != digest:
                problems.append(f"merge commit {m['commit'][:12]} anchors ledger row seq {seq} "
                                f"with hash {digest[:16]}…, but the ledger has "
                                f"{(stored or 'no such row')[:16]}…: the ledger was rewritten")
    return problems
