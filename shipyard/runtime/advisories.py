"""A local OSV advisory database for PyPI, queried offline by the `deps` check.

`import_path(db, DIR|ZIP)` loads OSV records (YAML or JSON, e.g. the pypa
advisory-database or OSV's PyPI export) into SQLite; `update(db)` downloads
OSV's PyPI export — the only network access here, and only when asked for.
YAML is read with the base loader so every scalar stays a string: version
`2.10` must not become the float 2.1.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import RunError, UserError

__all__ = [
    "OSV_PYPI_URL",
    "Advisory",
    "AdvisoryDB",
    "NoAdvisoryDatabase",
    "cvss3_base_score",
    "default_db_path",
    "default_url",
    "first_run_hint",
    "import_path",
    "update",
]

OSV_PYPI_URL = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
_Loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


class NoAdvisoryDatabase(UserError):
    """There is no advisory database (or it is empty) where the policy says."""


def first_run_hint(path: Path) -> str:
    """The one message that tells a fresh install how to get an advisory database."""
    return (f"no advisory database at {path} yet: run `shipyard advisories update` to download "
            f"OSV's PyPI export (online), or `shipyard advisories import FILE` with an OSV zip or "
            f"folder (offline); SHIPYARD_ADVISORIES_DB or policy.advisories_db point elsewhere")


def default_url() -> str:
    """$SHIPYARD_ADVISORIES_URL (a mirror, or a local server in tests), else OSV's PyPI export."""
    return os.environ.get("SHIPYARD_ADVISORIES_URL") or OSV_PYPI_URL


def default_db_path(policy: object | None = None) -> Path:
    """$SHIPYARD_ADVISORIES_DB, else policy.advisories_db, else ~/.cache/shipyard/advisories.db."""
    if env := os.environ.get("SHIPYARD_ADVISORIES_DB"):
        return Path(env).expanduser()
    if policy is not None and getattr(policy, "advisories_db", None):
        return Path(policy.advisories_db).expanduser()  # type: ignore[attr-defined]
    return Path.home() / ".cache" / "shipyard" / "advisories.db"


@dataclass(frozen=True, kw_only=True, slots=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str | None  # low | medium | high | critical, None when the record has none
    fixed: tuple[str, ...]


class AdvisoryDB:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _db(self):  # sqlite-utils imports sqlite3 and more: only when a database is used
        import sqlite_utils

        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(self.path)
        if "vulns" not in db.table_names():
            db["vulns"].create({"id": str, "aliases": str, "summary": str, "severity": str,
                                "modified": str, "source": str}, pk="id")
            db["affected"].create({"vuln_id": str, "package": str, "ranges": str,
                                   "versions": str, "fixed": str})
            db["affected"].create_index(["package"])
            db["affected"].create_index(["vuln_id"])
            db["meta"].create({"key": str, "value": str}, pk="key")
        return db

    def count(self) -> int:
        if not self.path.is_file():
            return 0
        return self._db()["vulns"].count

    def meta(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self._db()["meta"].rows}

    def require(self) -> None:
        """Raise the error that names the fix when there is nothing to match against."""
        if self.count() == 0:
            raise NoAdvisoryDatabase(first_run_hint(self.path))

    def add(self, records: Iterable[dict], source: str) -> int:
        db = self._db()
        n = 0
        with db.conn:
            for batch in _batches(r for r in records if _is_pypi(r)):
                ids = [r["id"] for r in batch]
                db.conn.executemany("delete from affected where vuln_id = ?", [(i,) for i in ids])
                db["vulns"].insert_all((_vuln_row(r, source) for r in batch), replace=True)
                db["affected"].insert_all(row for r in batch for row in _affected_rows(r))
                n += len(batch)
            db["meta"].insert_all([
                {"key": "source", "value": source},
                {"key": "imported_at", "value": datetime.now(UTC).isoformat(timespec="seconds")},
            ], replace=True)
        return n

    def lookup(self, package: str, version: str) -> list[Advisory]:
        """Advisories affecting `package==version` (names compared PEP 503-normalized)."""
        self.require()
        db = self._db()
        rows = db.execute(
            "select v.id, v.aliases, v.summary, v.severity, a.ranges, a.versions, a.fixed "
            "from affected a join vulns v on v.id = a.vuln_id where a.package = ?",
            [canonicalize_name(package)]).fetchall()
        out: dict[str, Advisory] = {}
        for vid, aliases, summary, severity, ranges, versions, fixed in rows:
            if vid not in out and affects(version, json.loads(ranges), json.loads(versions)):
                out[vid] = Advisory(id=vid, aliases=tuple(json.loads(aliases)), summary=summary,
                                    severity=severity or None, fixed=tuple(json.loads(fixed)))
        return sorted(out.values(), key=lambda a: a.id)


def affects(version: str, ranges: list[dict], versions: list[str]) -> bool:
    """OSV semantics: listed explicitly, or inside an ECOSYSTEM range's introduced/fixed events."""
    if version in versions:
        return True
    try:
        v = Version(version)
    except InvalidVersion:
        return False
    for rng in ranges:
        if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        state = False
        for kind, ev in _sorted_events(rng.get("events", [])):
            if kind == "introduced" and v >= ev:
                state = True
            elif kind == "fixed" and v >= ev or kind == "last_affected" and v > ev:
                state = False
        if state:
            return True
    return False


def _sorted_events(events: list[dict]) -> list[tuple[str, Version]]:
    out = []
    for ev in events:
        for kind in ("introduced", "fixed", "last_affected"):
            if kind in ev:
                raw = str(ev[kind])
                try:
                    out.append((kind, Version("0") if raw == "0" else Version(raw)))
                except InvalidVersion:
                    continue
    # at equal versions "fixed" wins over "introduced" only if listed later; keep stable order
    return sorted(out, key=lambda kv: kv[1])


def import_path(db: AdvisoryDB, path: Path) -> int:
    """Load every OSV record under directory `path` or inside zip `path`; return how many."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
        if not files:
            raise UserError(f"no .yaml/.json OSV records under {path}; point at the vulns/ folder "
                            f"of an advisory database or at OSV's PyPI all.zip")
        return db.add((r for p in files if (r := _parse(p.name, p.read_bytes()))), str(path))
    if zipfile.is_zipfile(path):
        return db.add(_from_zip(path), str(path))
    raise UserError(f"{path} is neither a directory nor a zip of OSV records")


def update(db: AdvisoryDB, url: str | None = None, timeout: float = 300) -> int:
    """Download OSV's PyPI export (or `url`, default `default_url()`) and import it.
    The one network call in the checks."""
    url = url or default_url()
    with tempfile.TemporaryDirectory(prefix="shipyard-osv-") as tmp:
        dest = Path(tmp) / "all.zip"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as f:
                while chunk := resp.read(1 << 20):
                    f.write(chunk)
        except OSError as exc:
            raise RunError(f"could not download {url}: {exc}; when offline, use "
                           f"`shipyard advisories import FILE` with a local copy") from exc
        if not zipfile.is_zipfile(dest):
            raise RunError(f"{url} did not return a zip of OSV records; point "
                           f"SHIPYARD_ADVISORIES_URL (or --url) at OSV's PyPI all.zip or a mirror")
        return import_path(db, dest)


def _from_zip(path: Path) -> Iterator[dict]:
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.endswith((".json", ".yaml", ".yml")) and (r := _parse(name, zf.read(name))):
                yield r


def _parse(name: str, data: bytes) -> dict | None:
    try:
        if name.endswith(".json"):
            doc = json.loads(data)
        else:
            doc = yaml.load(io.BytesIO(data), Loader=_Loader)
    except (ValueError, yaml.YAMLError):
        return None
    return doc if isinstance(doc, dict) and "id" in doc and "affected" in doc else None


def _is_pypi(rec: dict) -> bool:
    return any((a.get("package") or {}).get("ecosystem") == "PyPI" for a in rec.get("affected", []))


def _batches(records: Iterable[dict], size: int = 500) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for r in records:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _vuln_row(rec: dict, source: str) -> dict:
    summary = rec.get("summary") or (rec.get("details") or "").strip().split("\n")[0][:300]
    return {"id": rec["id"], "aliases": json.dumps(list(rec.get("aliases") or [])),
            "summary": summary, "severity": _severity(rec), "modified": rec.get("modified", ""),
            "source": source}


def _affected_rows(rec: dict) -> Iterator[dict]:
    for a in rec.get("affected", []):
        pkg = a.get("package") or {}
        if pkg.get("ecosystem") != "PyPI" or not pkg.get("name"):
            continue
        ranges = a.get("ranges") or []
        fixed = [str(e["fixed"]) for r in ranges for e in r.get("events", []) if "fixed" in e]
        yield {"vuln_id": rec["id"], "package": canonicalize_name(pkg["name"]),
               "ranges": json.dumps(ranges), "fixed": json.dumps(fixed),
               "versions": json.dumps([str(v) for v in a.get("versions") or []])}


def _severity(rec: dict) -> str | None:
    label = str((rec.get("database_specific") or {}).get("severity", "")).lower()
    if label in ("low", "medium", "high", "critical"):
        return label
    if label == "moderate":
        return "medium"
    for s in rec.get("severity") or []:
        if str(s.get("type")) == "CVSS_V3" and (score := cvss3_base_score(str(s.get("score")))):
            return ("low" if score < 4 else "medium" if score < 7 else "high" if score < 9
                    else "critical")
    return None


_W = {"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}, "AC": {"L": 0.77, "H": 0.44},
      "UI": {"N": 0.85, "R": 0.62}, "C": {"H": 0.56, "L": 0.22, "N": 0.0}}


def cvss3_base_score(vector: str) -> float | None:
    """CVSS v3.x base score from its vector string (the FIRST specification's formula)."""
    try:
        m = dict(part.split(":", 1) for part in vector.split("/")[1:])
        changed = m["S"] == "C"
        pr = {"N": 0.85, "L": 0.68 if changed else 0.62, "H": 0.5 if changed else 0.27}[m["PR"]]
        iss = 1 - math.prod(1 - _W["C"][m[k]] for k in ("C", "I", "A"))
        impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
        expl = 8.22 * _W["AV"][m["AV"]] * _W["AC"][m["AC"]] * pr * _W["UI"][m["UI"]]
    except (KeyError, ValueError):
        return None
    if impact <= 0:
        return 0.0
    raw = min(1.08 * (impact + expl), 10) if changed else min(impact + expl, 10)
    return math.ceil(raw * 10 - 1e-9) / 10
