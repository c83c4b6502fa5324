"""The audit ledger: append-only, hash-chained SQLite tables (sqlite-utils).

Every row of every table joins one chain: it carries a global `seq`, the
`prev_hash` of the row before it and its own `hash` = sha256(prev_hash +
canonical JSON of the row). `chain_head` stores the last seq and hash, so an
edited, deleted, reordered or truncated row is found by :meth:`Ledger.verify`.

Appends take SQLite's write lock (`BEGIN IMMEDIATE`) so that several processes
and threads — parallel reviewers, a CLI approving while another resumes —
extend one consistent chain. Secrets are redacted before a row is hashed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ulid import ULID

from .redact import redact

__all__ = ["GENESIS", "TABLES", "Ledger", "VerifyReport", "canonical_json", "row_hash"]

GENESIS = "0" * 64
TABLES = ("runs", "llm_calls", "tool_runs", "approvals", "artifacts", "events", "evals")
_CHAIN_COLUMNS = ("id", "seq", "ts", "prev_hash", "hash")

_Migration = Callable[["Any"], None]
_MIGRATIONS: list[tuple[str, _Migration]] = []


def migration(fn: _Migration) -> _Migration:
    """Register a schema migration; they run in order, once, when a ledger opens."""
    _MIGRATIONS.append((fn.__name__, fn))
    return fn


def _chain_cols() -> dict[str, type]:
    return {"id": str, "seq": int, "ts": str, "run_id": str}


@migration
def m001_initial(db: Any) -> None:
    columns: dict[str, dict[str, type]] = {
        "runs": {"feature": str, "repo": str, "base_branch": str, "base_sha": str,
                 "branch": str, "worktree": str, "settings": str, "started_by": str},
        "llm_calls": {"agent": str, "task": str, "gate": str, "prompt_id": str,
                      "prompt_version": str, "model": str, "provider": str, "messages": str,
                      "params": str, "tools": str, "response": str, "parsed": str,
                      "input_tokens": int, "output_tokens": int, "cost_usd": float,
                      "latency_s": float, "attempt": int, "error": str, "trace_id": str},
        "tool_runs": {"name": str, "gate": str, "status": str, "blocking": int,
                      "command": str, "findings": str, "evidence": str, "duration_s": float,
                      "summary": str},
        "approvals": {"gate": str, "decision": str, "who": str, "comment": str,
                      "signature": str, "key_id": str},
        "artifacts": {"gate": str, "kind": str, "path": str, "sha256": str},
        "events": {"kind": str, "gate": str, "data": str},
    }
    for table, cols in columns.items():
        db[table].create({**_chain_cols(), **cols, "prev_hash": str, "hash": str}, pk="id")
        db[table].create_index(["seq"], unique=True)
        db[table].create_index(["run_id"])
    db["chain_head"].create({"id": int, "seq": int, "hash": str}, pk="id")
    db["chain_head"].insert({"id": 1, "seq": 0, "hash": GENESIS})


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


@migration
def m002_approval_head(db: Any) -> None:
    """Approvals name (and sign) the commit the human saw: G7 merges exactly that one."""
    db["approvals"].add_column("head", str)


@migration
def m010_evals(db: Any) -> None:
    """Eval suite scores, one row per (suite, agent, metric): `shipyard release` compares a
    new suite with the last release's rows (run_id is the suite's id)."""
    db["evals"].create({**_chain_cols(), "agent": str, "metric": str, "score": float,
                        "threshold": float, "higher_is_better": int, "n": int, "passed": int,
                        "skipped": str, "model": str, "prompts": str, "prev_hash": str,
                        "hash": str}, pk="id")
    db["evals"].create_index(["seq"], unique=True)
    db["evals"].create_index(["run_id"])


@migration
def m011_span_ids(db: Any) -> None:
    """Every row names the span it was written in, so an audit row leads to its trace."""
    for table in TABLES:
        columns = db[table].columns_dict
        for column in ("trace_id", "span_id"):
            if column not in columns:
                db[table].add_column(column, str)


def approval_payload(*, run_id: str, gate: str, decision: str, who: str, comment: str,
                     head: str | None = None) -> bytes:
    """What an approval's signature covers; signing and `verify` must agree byte for byte.

    `head` is the commit under review when the decision was taken (left out when there
    was none yet, and in approvals signed before heads were)."""
    body = {"run_id": run_id, "gate": gate, "decision": decision, "who": who,
            "comment": comment or ""}
    if head:
        body["head"] = head
    return canonical_json(body).encode()


def row_hash(table: str, row: dict[str, Any], prev_hash: str) -> str:
    # NULL columns are left out, so a column added by a later migration (NULL in
    # old rows) does not change the hash of rows written before it existed.
    body = {k: v for k, v in row.items() if k not in ("hash", "prev_hash") and v is not None}
    body["_table"] = table  # a row moved to another table no longer verifies
    return hashlib.sha256((prev_hash + "\n" + canonical_json(body)).encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _span_ids() -> dict[str, str]:
    """The active span's ids (none outside a span: the row hashes as it always did)."""
    from .telemetry import current_ids

    ids = current_ids()
    return {"trace_id": ids[0], "span_id": ids[1]} if ids else {}


def _to_column(value: Any) -> Any:
    """Structured values are stored as canonical JSON text, so what is hashed is what is stored."""
    if isinstance(value, bool):  # before int: SQLite hands booleans back as 0/1
        return int(value)
    if isinstance(value, str):
        return _encodable(value)
    if value is None or isinstance(value, (int, float)):
        return value
    return _encodable(canonical_json(value))


def _encodable(text: str) -> str:
    """`text` as valid UTF-8: a lone surrogate (from a filename or a model's broken output)
    becomes U+FFFD instead of crashing the write and losing the row."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyReport:
    ok: bool
    rows: int
    problem: str | None = None
    table: str | None = None
    row_id: str | None = None
    seq: int | None = None


class Ledger:
    """Open (creating and migrating if needed) the ledger at `path`."""

    def __init__(self, path: Path) -> None:
        import sqlite_utils  # imported here: the CLI's --help must not pay for it

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives process crashes
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        self._lock = threading.RLock()
        self._migrate()

    @classmethod
    def for_repo(cls, repo: Path) -> Ledger:
        return cls(Path(repo) / ".shipyard" / "ledger.db")

    def close(self) -> None:
        self.db.close()

    # -- schema -----------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._lock, self._write():
            if "_migrations" not in self.db.table_names():
                self.db["_migrations"].create({"name": str, "applied_at": str}, pk="name")
            done = {r["name"] for r in self.db["_migrations"].rows}
            for name, fn in _MIGRATIONS:
                if name not in done:
                    fn(self.db)
                    self.db["_migrations"].insert({"name": name, "applied_at": _now()})

    def _write(self):
        """A write transaction holding SQLite's RESERVED lock from the start."""
        ledger = self

        class _Tx:
            def __enter__(self_inner):
                ledger.db.conn.execute("BEGIN IMMEDIATE")
                return ledger.db

            def __exit__(self_inner, exc_type, exc, tb):
                if exc_type is None:
                    ledger.db.conn.execute("COMMIT")
                else:
                    ledger.db.conn.execute("ROLLBACK")
                return False

        return _Tx()

    # -- writing ----------------------------------------------------------------------------
    def append(self, table: str, *, run_id: str | None, **fields: Any) -> dict[str, Any]:
        """Append one row to `table`, chained; returns the row as stored."""
        if table not in TABLES:
            raise ValueError(f"unknown ledger table {table!r}; one of {TABLES}")
        clean = {k: _to_column(redact(v)) for k, v in fields.items()}
        if clean.get("span_id") is None:
            clean.update(_span_ids())
        with self._lock, self._write() as db:
            head = db.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
            seq, prev = head[0] + 1, head[1]
            row = {"id": str(ULID()), "seq": seq, "ts": _now(), "run_id": run_id, **clean}
            row["prev_hash"] = prev
            row["hash"] = row_hash(table, row, prev)
            db[table].insert(row, alter=True)
            db.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1",
                       [seq, row["hash"]])
        return row

    def event(self, run_id: str | None, kind: str, *, gate: str | None = None,
              **data: Any) -> dict[str, Any]:
        return self.append("events", run_id=run_id, kind=kind, gate=gate, data=data)

    # -- reading ----------------------------------------------------------------------------
    @staticmethod
    def _where(run_id: str | None, where: str | None,
               params: list[Any] | None) -> tuple[str, list[Any]]:
        clauses, args = ["1=1"], []
        if run_id is not None:
            clauses.append("run_id = ?")
            args.append(run_id)
        if where:
            clauses.append(f"({where})")
            args.extend(params or [])
        return " AND ".join(clauses), args

    def rows(self, table: str, *, run_id: str | None = None, where: str | None = None,
             params: list[Any] | None = None) -> list[dict[str, Any]]:
        sql_where, args = self._where(run_id, where, params)
        with self._lock:  # one connection, shared by the parallel reviewers' threads
            return list(self.db[table].rows_where(sql_where, args, order_by="seq"))

    def count(self, table: str, *, run_id: str | None = None, where: str | None = None,
              params: list[Any] | None = None) -> int:
        sql_where, args = self._where(run_id, where, params)
        with self._lock:
            return self.db.execute(f"SELECT count(*) FROM [{table}] WHERE {sql_where}",
                                   args).fetchone()[0]

    def timeline(self, run_id: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every row (of one run, or all), in chain order, as (table, row)."""
        per_table = {t: self.rows(t, run_id=run_id) for t in TABLES}
        merged = [(t, r) for t, rows in per_table.items() for r in rows]
        merged.sort(key=lambda tr: tr[1]["seq"])
        yield from merged

    def run_ids(self) -> list[str]:
        return [r["run_id"] for r in self.rows("runs")]

    def spent_usd(self, run_id: str) -> float:
        with self._lock:
            row = self.db.execute(
                "SELECT coalesce(sum(cost_usd), 0) FROM llm_calls WHERE run_id = ?", [run_id]
            ).fetchone()
        return float(row[0])

    def get(self, table: str, row_id: str) -> dict[str, Any] | None:
        with self._lock:
            rows = list(self.db[table].rows_where("id = ?", [row_id]))
        return rows[0] if rows else None

    def head(self) -> tuple[int, str]:
        """The chain head: the last row's seq and hash."""
        with self._lock:
            seq, digest = self.db.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        return int(seq), str(digest)

    def hash_at(self, seq: int) -> str | None:
        """The stored hash of the row with this seq, in whichever table it is."""
        with self._lock:
            for table in TABLES:
                row = self.db.execute(f"SELECT hash FROM [{table}] WHERE seq = ?", [seq]).fetchone()
                if row:
                    return str(row[0])
        return None

    # -- verifying --------------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Recompute the whole chain; report the first row that does not verify."""
        prev, expected_seq, n = GENESIS, 1, 0
        for table, row in self.timeline():
            n += 1
            where = {"table": table, "row_id": row["id"], "seq": row["seq"]}
            if row["seq"] != expected_seq:
                return VerifyReport(ok=False, rows=n, problem=(
                    f"row seq {expected_seq} is missing (next row has seq {row['seq']}): "
                    f"a row was deleted"), **where)
            if row["prev_hash"] != prev:
                return VerifyReport(ok=False, rows=n, problem="prev_hash does not link to the "
                                    "row before it: rows were reordered or replaced", **where)
            if row_hash(table, row, prev) != row["hash"]:
                return VerifyReport(ok=False, rows=n, problem="content does not match its hash: "
                                    "the row was modified after it was written", **where)
            prev, expected_seq = row["hash"], expected_seq + 1
        head = self.db.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        if head[0] != n:
            return VerifyReport(ok=False, rows=n, problem=(
                f"chain head says {head[0]} rows but {n} were found: rows at the end were "
                f"deleted or the head was edited"), seq=head[0])
        if head[1] != prev:
            return VerifyReport(ok=False, rows=n, problem=(
                "chain head hash does not match the last row: the head was edited"), seq=head[0])
        return VerifyReport(ok=True, rows=n)
