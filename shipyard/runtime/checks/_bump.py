"""A release commit's version bump, applied to the base's wheel instead of a new build.

Most commits of a released library that touch `pyproject.toml` change one line of it: the
version (four of crashtest's last five). Any change there made the check build the wheel
again — crashtest's build alone is ~0.3 s of a 0.7 s warm check against a 0.3 s suite.
Where the file's only difference is its static version (`[project] version`, or
`[tool.poetry] version`: the tables compared whole, that key aside), the wheel a build
gives differs from the base's by that version alone: the `.dist-info` folder's name, the
`Version:` line of METADATA, the RECORD lines naming them, and the wheel's file name.
Nothing else of a wheel says its version, for the backends that read a static one (a
dynamic version is no static change, so it is built). The modules the commit edits are
replaced as `_wheels.py` replaces them. Anything else in the file changed, or a dist-info
that does not carry the old version, is built as before.
"""

from __future__ import annotations

import tomllib
from typing import Any

from packaging.version import InvalidVersion, Version

__all__ = ["Bump", "dist_info_of", "metadata", "renamed", "version_bump"]

Bump = tuple[str, str]  # (the base wheel's version, the head's), both normalized


def version_bump(base_text: str, head_text: str) -> Bump | None:
    """(old, new) when the two `pyproject.toml` texts differ in their static version
    alone; None otherwise (including when they do not parse)."""
    try:
        base, head = tomllib.loads(base_text), tomllib.loads(head_text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    old, new = _static_version(base), _static_version(head)
    if old is None or new is None or old == new or _without_version(base) != \
            _without_version(head):
        return None
    try:
        return str(Version(old)), str(Version(new))
    except InvalidVersion:
        return None


def renamed(member: str, bump: Bump, dist_info: str) -> str:
    """`member`'s name in the bumped wheel: the dist-info folder carries the new version."""
    if member.startswith(f"{dist_info}/"):
        return f"{dist_info[:-len(bump[0]) - len('.dist-info')]}{bump[1]}.dist-info" + \
            member[len(dist_info):]
    return member


def dist_info_of(members: list[str], bump: Bump) -> str | None:
    """The wheel's `name-<old>.dist-info` folder, or None when none carries the old
    version (the backend named it otherwise: build instead)."""
    folders = {m.split("/", 1)[0] for m in members if "/" in m}
    found = [f for f in folders if f.endswith(f"-{bump[0]}.dist-info")]
    return found[0] if len(found) == 1 else None


def metadata(text: str, bump: Bump) -> str | None:
    """METADATA with its `Version:` header set to the new version; None when the header is
    not the old version."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            break  # the headers end at the first blank line; the description follows
        if line.startswith("Version:"):
            if line.split(":", 1)[1].strip() != bump[0]:
                return None
            lines[i] = f"Version: {bump[1]}"
            return "\n".join(lines)
    return None


def _static_version(doc: dict[str, Any]) -> str | None:
    project, poetry = doc.get("project", {}), doc.get("tool", {}).get("poetry", {})
    if isinstance(project, dict) and "version" in project.get("dynamic", []):
        return None
    for table in (project, poetry):
        if isinstance(table, dict) and isinstance(table.get("version"), str):
            return table["version"]
    return None


def _without_version(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    if isinstance(out.get("project"), dict):
        out["project"] = {k: v for k, v in out["project"].items() if k != "version"}
    tool = out.get("tool")
    if isinstance(tool, dict) and isinstance(tool.get("poetry"), dict):
        out["tool"] = {**tool, "poetry": {k: v for k, v in tool["poetry"].items()
                                          if k != "version"}}
    return out
