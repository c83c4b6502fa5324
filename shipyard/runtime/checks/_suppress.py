"""Suppressions the change adds: `# nosec`, `# noqa`, `# pragma: no cover`, loosened config.

lint and sast run with our flags and the base's config, so a suppression the
change adds no longer hides anything from them; it is still reported, because
switching a control off is a human's decision and a reviewer should see it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from .. import gittree
from ._util import Reader, read_base, read_head
from .base import CheckContext, Finding

__all__ = ["CLASSIC_RULES", "RUFF_CONFIGS", "added_suppressions", "default_rules",
           "loosened_config", "with_base_config"]

RUFF_CONFIGS = ("pyproject.toml", "ruff.toml", ".ruff.toml")
_NOSEC = re.compile(r"#\s*nosec\b", re.IGNORECASE)
_NOQA = re.compile(r"#\s*(?:(?:ruff|flake8)\s*:\s*)?noqa\b(?:\s*:\s*(?P<codes>[A-Z0-9, ]+))?",
                   re.IGNORECASE)
_NOCOVER = re.compile(r"#\s*pragma:\s*no\s*(?:cover|branch)\b", re.IGNORECASE)
_LOOSENING = ("exclude", "extend-exclude", "ignore", "extend-ignore", "per-file-ignores",
              "extend-per-file-ignores", "unfixable", "skips", "exclude_dirs")


def added_suppressions(ctx: CheckContext, files: list[str],
                       kind: Literal["sast", "lint"]) -> list[Finding]:
    """Inline suppressions on lines base..head adds: security ones for sast, the rest for lint."""
    read = read_head(ctx)
    out = []
    for path in files:
        text = read(path)
        if text is None:
            continue
        lines = text.splitlines()
        for n in sorted(gittree.added_lines(ctx.repo, ctx.base, ctx.head, path)):
            line = lines[n - 1] if 0 < n <= len(lines) else ""
            f = _finding(path, n, line)
            if f is not None and f.rule.startswith(kind):
                out.append(f)
    return out


def _finding(path: str, n: int, line: str) -> Finding | None:
    if _NOSEC.search(line):
        return Finding(rule="sast.suppression-added", severity="medium", path=path, line=n,
                       message="`# nosec` added: it would hide this line from bandit; remove it "
                               "and fix the finding (a human may accept it in review)")
    if _NOCOVER.search(line):
        return Finding(rule="lint.suppression-added", severity="low", path=path, line=n,
                       message="`# pragma: no cover` added: it hides code from the coverage "
                               "rule; test the code instead")
    m = _NOQA.search(line)
    if m is None:
        return None
    codes = [c.strip().upper() for c in (m["codes"] or "").split(",") if c.strip()]
    if not codes or line.lstrip().startswith("#") or any(c.startswith("S") for c in codes):
        return Finding(rule="sast.suppression-added", severity="medium", path=path, line=n,
                       message=f"`{m[0].strip()}` added: it would hide security rules from ruff; "
                               f"remove it and fix the finding")
    return Finding(rule="lint.suppression-added", severity="low", path=path, line=n,
                   message=f"`{m[0].strip()}` added; fix the lint finding instead of silencing it")


def loosened_config(ctx: CheckContext, tracked: list[str]) -> list[Finding]:
    """ruff/bandit settings the head adds that exclude files or ignore rules."""
    base, head = read_base(ctx), read_head(ctx)
    out = []
    for path in (p for p in tracked if Path(p).name in RUFF_CONFIGS):
        added = _settings(head, path) - _settings(base, path)
        for key, value in sorted(added):
            out.append(Finding(rule="lint.config-suppression", severity="medium", path=path,
                               line=None, message=f"the change adds {key} = {value!r}; checks "
                                                  f"use the base's config, a human changes it"))
    return out


def _settings(read: Reader, path: str) -> set[tuple[str, str]]:
    text = read(path)
    try:
        doc = tomllib.loads(text) if text else {}
    except tomllib.TOMLDecodeError:
        return set()
    tables = [doc.get("tool", {}).get("ruff", {}), doc.get("tool", {}).get("bandit", {})] \
        if Path(path).name == "pyproject.toml" else [doc]
    out: set[tuple[str, str]] = set()
    for table in tables:
        for t in (table, table.get("lint", {}) if isinstance(table, dict) else {}):
            for key in _LOOSENING:
                value = t.get(key) if isinstance(t, dict) else None
                if isinstance(value, dict):
                    out |= {(f"{key}[{k!r}]", str(v)) for k, v in value.items()}
                elif isinstance(value, list):
                    out |= {(key, str(v)) for v in value}
    return out


# A repository that never configured ruff is judged by the rules ruff applied for years
# (pyflakes and syntax), not by whatever a newer ruff turns on by default (import order,
# RUF style rules): those would block every change to a legacy repository.
CLASSIC_RULES = ["--select", "E4,E7,E9,F"]


def default_rules(root: Path) -> list[str]:
    """`CLASSIC_RULES` unless `root` (a tree) configures ruff itself."""
    for name in RUFF_CONFIGS:
        for cfg in root.rglob(name):
            text = cfg.read_text(encoding="utf-8", errors="replace")
            if name != "pyproject.toml" or "[tool.ruff" in text:
                return []
    return CLASSIC_RULES


def with_base_config(ctx: CheckContext, tree: Path) -> None:
    """Replace every ruff config file in `tree` (a head copy) by the base's version, if any."""
    for name in RUFF_CONFIGS:
        for cfg in tree.rglob(name):
            cfg.unlink()
    read = read_base(ctx)
    for e in gittree.entries(ctx.repo, ctx.base):
        if Path(e.path).name in RUFF_CONFIGS and (text := read(e.path)) is not None:
            (tree / e.path).parent.mkdir(parents=True, exist_ok=True)
            (tree / e.path).write_text(text, encoding="utf-8")
