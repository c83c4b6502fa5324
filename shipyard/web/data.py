"""What the console shows, read through the runner and the ledger the CLI uses.

Nothing here decides or drives: `runs`, `status` and `decide` are the runner's
own functions, so the page, the JSON API and the CLI cannot disagree. A run id
from a URL is matched against the ledger's run ids before it is used for
anything, and artifacts are opened by ledger row, never by a path from a URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RunNotFound
from ..runtime.redact import redact

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["GATES", "Console", "Repo", "age", "run_metrics"]

GATES = ("G0", "G1", "G2", "G3", "G4", "G5", "G6", "G7", "G8")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_ACTOR = {"waiting": "human approver", "running": "shipyard (agents at work)",
          "failed": "human: fix, then `shipyard resume`", "blocked": "human: fix, then resume"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Repo:
    name: str  # unique among the served repositories; what URLs and filters use
    path: Path


def age(ts: str, now: datetime | None = None) -> str:
    """'5 min', '3 h', '2 d': how long ago an ISO timestamp was."""
    seconds = ((now or datetime.now(UTC)) - datetime.fromisoformat(ts)).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{max(0, int(seconds))} s"


class Console:
    """The served repositories, each with one runner for reads (serialised by a lock)."""

    def __init__(self, paths: list[Path]) -> None:
        from ..runtime.workspace import Git

        self.repos: list[Repo] = []
        for p in paths:
            top = Git.open_repo(p).path
            if any(r.path == top for r in self.repos):
                continue
            name, n = top.name, 2
            while any(r.name == name for r in self.repos):
                name, n = f"{top.name}-{n}", n + 1
            self.repos.append(Repo(name=name, path=top))
        self._readers: dict[str, Runner] = {}
        self._locks = {r.name: threading.Lock() for r in self.repos}

    @contextlib.contextmanager
    def reading(self, repo: Repo) -> Iterator[Runner]:
        from ..runner import Runner

        with self._locks[repo.name]:
            if repo.name not in self._readers:
                self._readers[repo.name] = Runner(repo.path, progress=None)
            yield self._readers[repo.name]

    def deciding(self, repo: Repo) -> Runner:
        """A runner of its own for a decision: its thread drives the run after we return."""
        from ..runner import Runner

        return Runner(repo.path, progress=None)

    def find(self, run_id: str) -> Repo:
        """The repository holding `run_id`; RunNotFound for anything the ledgers do not name."""
        if _RUN_ID.fullmatch(run_id):
            for repo in self.repos:
                with self.reading(repo) as runner:
                    if run_id in runner.ledger.run_ids():
                        return repo
        shown = run_id if _RUN_ID.fullmatch(run_id) else "(malformed id)"
        raise RunNotFound(f"no run {shown!r} in the served repositories; the runs page "
                          f"(or `shipyard runs`) lists them.")

    def repo_named(self, name: str | None) -> Repo | None:
        return next((r for r in self.repos if r.name == name), None)

    def version(self) -> str:
        """Changes whenever any served ledger gains a row: the pages' live-update signal."""
        heads = []
        for repo in self.repos:
            with self.reading(repo) as runner:
                heads.append(str(runner.ledger.head()[0]))
        return ".".join(heads)

    # -- lists ------------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        """`runner.runs()` of every repository (what `shipyard runs --json` prints) + `repo`."""
        out = []
        for repo in self.repos:
            with self.reading(repo) as runner:
                out += [{**row, "repo": repo.name} for row in runner.runs()]
        return sorted(out, key=lambda r: r["started"], reverse=True)

    def runs_table(self, *, repo: str = "", status: str = "", q: str = "") -> list[dict[str, Any]]:
        rows = []
        for row in self.runs():
            if (repo and row["repo"] != repo) or (status and row["status"] != status) or (
                    q and q.lower() not in f"{row['run_id']} {row['feature']}".lower()):
                continue
            four_eyes = self._four_eyes(self.repo_named(row["repo"]), row["run_id"])
            actor = _ACTOR.get(row["status"], "nobody (finished)")
            if row["status"] == "waiting" and four_eyes:
                actor += f" other than {four_eyes}"
            rows.append({**row, "age": age(row["started"]), "actor": actor})
        return rows

    def _four_eyes(self, repo: Repo | None, run_id: str) -> str | None:
        """The requester, when the four-eyes rule forbids them to approve."""
        if repo is None:
            return None
        with self.reading(repo) as runner:
            if not runner.env.settings.gates.approver_must_differ_from_requester:
                return None
            started = runner.ledger.rows("runs", run_id=run_id)
        return started[0].get("started_by") if started else None

    # -- one run ----------------------------------------------------------------------------
    def status(self, repo: Repo, run_id: str) -> dict[str, Any]:
        """What `shipyard status RUN --json` prints."""
        with self.reading(repo) as runner:
            return runner.status(run_id).to_dict()

    def detail(self, repo: Repo, run_id: str) -> dict[str, Any]:
        status = self.status(repo, run_id)
        with self.reading(repo) as runner:
            timeline = list(runner.ledger.timeline(run_id))
        rows = {t: [r for tt, r in timeline if tt == t] for t in
                ("runs", "llm_calls", "tool_runs", "approvals", "artifacts", "events")}
        events = [{**r, "data": _json(r.get("data")) or {}} for r in rows["events"]]
        diffs = [e for e in events if e["kind"] == "diff"]
        return {"repo": repo.name, "status": status, "run": rows["runs"][0],
                "gates": gate_timeline(rows, events, status),
                "findings": findings(rows["tool_runs"]),
                "diff": diffs[-1]["data"] if diffs else None,
                "artifacts": rows["artifacts"], "cost_by_agent": cost_by_agent(rows["llm_calls"]),
                "approvals": rows["approvals"], "timeline": timeline,
                "four_eyes": self._four_eyes(repo, run_id)}

    def artifact(self, repo: Repo, run_id: str, artifact_id: str) -> dict[str, Any]:
        """An artifact's text, from the run's worktree or (merged) the repository, only while
        it still has the sha256 the ledger recorded."""
        with self.reading(repo) as runner:
            row = runner.ledger.get("artifacts", artifact_id) if _RUN_ID.fullmatch(
                artifact_id) else None
            started = runner.ledger.rows("runs", run_id=run_id)
        if row is None or row["run_id"] != run_id:
            raise RunNotFound(f"run {run_id} has no artifact {artifact_id[:40]!r}; the run "
                              f"page lists its artifacts.")
        text, where = None, "neither the run's worktree nor the repository has it any more"
        for base in (Path(started[0]["worktree"]), repo.path):
            path = (base / row["path"]).resolve()
            if not path.is_relative_to(base.resolve()) or not path.is_file():
                continue
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() == row["sha256"]:
                text, where = data.decode("utf-8", "replace"), str(path)
                break
            where = f"{path} changed since the ledger recorded it"
        return {**row, "text": text, "where": where}

    # -- the dashboard ----------------------------------------------------------------------
    def dashboard(self) -> dict[str, Any]:
        """Cost and DORA numbers from the `dora` and `cost` rows G8 writes per run."""
        per_run, by_agent = [], {}
        for repo in self.repos:
            with self.reading(repo) as runner:
                per_run += [{**m, "repo": repo.name} for m in run_metrics(runner.ledger)]
                for agent, c in cost_by_agent(runner.ledger.rows("llm_calls")).items():
                    acc = by_agent.setdefault(agent, {"calls": 0, "cost_usd": 0.0, "tokens": 0})
                    for k in acc:
                        acc[k] += c[k]
        return {"runs": per_run, "totals": dora_totals(per_run), "by_agent": by_agent}

    def verify(self, repo: Repo) -> dict[str, Any]:
        from ..verify import verify_repo

        return verify_repo(repo.path)


def run_metrics(ledger: Any) -> list[dict[str, Any]]:
    """One row per ended run: its G8 `dora` and `cost` events, joined.

    TODO(issue 11): read these through the report module once it lands, so the console and
    `shipyard report` share one definition of each number."""
    out: dict[str, dict[str, Any]] = {}
    for row in ledger.rows("events", where="kind IN ('dora', 'cost')"):
        entry = out.setdefault(row["run_id"], {"run_id": row["run_id"], "ended": row["ts"]})
        entry.update(_json(row["data"]) or {})
        entry["ended"] = row["ts"]
    return sorted(out.values(), key=lambda r: r["ended"], reverse=True)


def dora_totals(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ended = len(runs)
    deployed = [r for r in runs if r.get("deployed")]
    leads = sorted(r["lead_time_s"] for r in deployed if r.get("lead_time_s") is not None)
    cost = sum(r.get("cost_usd") or 0 for r in runs)
    return {"ended": ended, "deployed": len(deployed),
            "change_failure_rate": (sum(1 for r in runs if r.get("change_failed")) / ended
                                    if ended else None),
            "median_lead_time_s": leads[len(leads) // 2] if leads else None,
            "cost_usd": cost, "cost_per_deploy_usd": cost / len(deployed) if deployed else None}


def cost_by_agent(calls: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for c in calls:
        acc = out.setdefault(c["agent"], {"calls": 0, "cost_usd": 0.0, "tokens": 0})
        acc["calls"] += 1
        acc["cost_usd"] += c.get("cost_usd") or 0
        acc["tokens"] += (c.get("input_tokens") or 0) + (c.get("output_tokens") or 0)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["cost_usd"]))


def findings(tool_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every check that did not pass or that found something, with its findings."""
    out = []
    for row in tool_runs:
        found = _json(row.get("findings")) or []
        if row["status"] != "pass" or found:
            out.append({"gate": row.get("gate"), "name": row["name"], "status": row["status"],
                        "blocking": bool(row.get("blocking")), "summary": row.get("summary"),
                        "findings": found})
    return out


def gate_timeline(rows: dict[str, list[dict[str, Any]]], events: list[dict[str, Any]],
                  status: dict[str, Any]) -> list[dict[str, Any]]:
    """Per gate the run reached: when it started and ended, and its verdict."""
    seen: dict[str, dict[str, Any]] = {}
    for table in ("llm_calls", "tool_runs", "approvals", "artifacts", "events"):
        for r in rows[table]:
            if r.get("gate") in GATES:
                g = seen.setdefault(r["gate"], {"gate": r["gate"], "start": r["ts"],
                                                "end": r["ts"]})
                g["start"], g["end"] = min(g["start"], r["ts"]), max(g["end"], r["ts"])
    for g in seen.values():
        g["verdict"] = _verdict(g["gate"], rows, events)
    if status["status"] == "waiting" and status["gate"]:
        g = seen.setdefault(status["gate"], {"gate": status["gate"], "start": "", "end": ""})
        g["verdict"] = "waiting for a human"
    return [seen[g] for g in GATES if g in seen]


def _verdict(gate: str, rows: dict[str, list[dict[str, Any]]],
             events: list[dict[str, Any]]) -> str:
    decided = [a for a in rows["approvals"] if a["gate"] == gate]
    if decided:
        return f"{decided[-1]['decision']} by {decided[-1]['who']}"
    own = [e for e in events if e.get("gate") == gate]
    ended = [e for e in own if e["kind"] == "run_ended"]
    if ended:
        return f"run {ended[-1]['data'].get('status', 'ended')}"
    g5 = [e for e in own if e["kind"] == "g5_decision"]
    if g5:
        return f"reviews: {g5[-1]['data'].get('verdict')}"
    if any(e["kind"] == "node_failed" for e in own):
        return "failed"
    checks = [t for t in rows["tool_runs"] if t.get("gate") == gate]
    if any(t["status"] != "pass" and t.get("blocking") for t in checks):
        return "checks: block"
    return "checks: pass" if checks else "done"


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def safe(value: Any) -> Any:
    """Everything leaving the server goes through the ledger's redaction once more."""
    return redact(value)
