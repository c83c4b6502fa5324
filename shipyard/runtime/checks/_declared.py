"""What a target declares it needs to build and test: read from files, never executed.

The tests check builds its environment from these declarations only — `[project]
dependencies` plus test extras, PEP 735 `[dependency-groups]`, poetry/PDM dev groups,
requirements files, tox `deps`/`extras` and a noxfile's literal `session.install`
arguments (read with ast) — so creating (and caching) the environment
never runs the target's code. The environment's cache key is the hash of what is read.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ._nox import read_noxfile

__all__ = ["TEST_GROUPS", "Declarations", "read_declarations"]

TEST_GROUPS = ("test", "tests", "testing", "dev")
_TOOLS = ("pytest", "coverage")
_DEFAULT_BUILD = ("setuptools>=40.8.0", "wheel")
_REQ_FILE = re.compile(r"^requirements[^/]*\.txt$|^requirements/[^/]+\.txt$")


@dataclass(frozen=True, kw_only=True, slots=True)
class Declarations:
    name: str | None                 # the distribution name, when the tree is a package
    packaged: bool                   # has pyproject.toml [build-system]/[project] or setup.py/cfg
    requirements: tuple[str, ...]    # what the tests need installed, sorted
    build_requires: tuple[str, ...]  # the build backend's requirements
    sources: tuple[str, ...]         # the files these came from
    requires_python: str | None = None  # `requires-python` / `python_requires`, as written

    def python_mismatch(self, version: str) -> str | None:
        """Why Python `version` cannot run this project (its `requires-python` excludes
        it), or None: also when the specifier is unreadable, which pip would reject too."""
        try:
            spec = SpecifierSet(self.requires_python or "")
            ok = spec.contains(Version(version), prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            return None
        return None if ok else f"the project requires Python {self.requires_python}"

    def key(self, python: str) -> str:
        """The environment's cache key: the interpreter and everything installed into it."""
        doc = json.dumps([python, self.requirements, self.build_requires], sort_keys=True)
        return hashlib.sha256(doc.encode()).hexdigest()[:24]


def read_declarations(tree: Path) -> Declarations:
    """The declarations of the exported tree `tree`."""
    pyproject = _toml(tree / "pyproject.toml")
    project = pyproject.get("project", {})
    name = project.get("name") or _setup_cfg(tree, "metadata", "name")
    requires_python = project.get("requires-python") or _setup_cfg(tree, "options",
                                                                   "python_requires")
    reqs: list[str] = [*project.get("dependencies", []), *_extras(project, name)]
    reqs += _groups(pyproject.get("dependency-groups", {}))
    reqs += _tool_groups(pyproject.get("tool", {}))
    sources = ["pyproject.toml"] if pyproject else []
    for path in sorted(p for p in _files(tree) if _REQ_FILE.match(p) and "doc" not in p):
        reqs += _requirements_file(tree / path, set())
        sources.append(path)
    if (tree / "tox.ini").is_file():
        reqs += _tox(tree, project, name)
        sources.append("tox.ini")
    if (nox := read_noxfile(tree)) is not None:
        reqs += [*nox.requirements, *_extras(project, name, nox.extras)]
        for rel in nox.requirement_files:
            reqs += _requirements_file(tree / rel, set())
        sources.append("noxfile.py")
    packaged = bool(pyproject.get("build-system") or project) or any(
        (tree / f).is_file() for f in ("setup.py", "setup.cfg"))
    build = pyproject.get("build-system", {}).get("requires") or list(_DEFAULT_BUILD)
    return Declarations(name=name, packaged=packaged, sources=tuple(sources),
                        requires_python=requires_python if isinstance(requires_python, str)
                        else None,
                        requirements=_clean([*reqs, *_TOOLS], name),
                        build_requires=_clean([*build, "pip"], name))


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _setup_cfg(tree: Path, section: str, key: str) -> str | None:
    cfg = configparser.ConfigParser(interpolation=None)
    try:
        cfg.read(tree / "setup.cfg", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    return cfg.get(section, key, fallback=None) or None


def _files(tree: Path) -> list[str]:
    top = [p.name for p in tree.glob("requirements*.txt")]
    return top + [f"requirements/{p.name}" for p in tree.glob("requirements/*.txt")]


def _expand(table: dict, wanted: tuple[str, ...],
            refers: Callable[[object], list[str] | None]) -> list[str]:
    """The requirements of the `wanted` entries of `table`, following references between
    entries (`refers(item)` names the entries an item points to, None for a requirement)."""
    out: list[str] = []
    todo, seen = [w for w in wanted if w in table], set()
    while todo:
        entry = todo.pop()
        if entry in seen:
            continue
        seen.add(entry)
        for item in table.get(entry, []):
            if (more := refers(item)) is not None:
                todo += [m for m in more if m in table]
            elif isinstance(item, str):
                out.append(item)
    return out


def _extras(project: dict, name: str | None, wanted: tuple[str, ...] = TEST_GROUPS) -> list[str]:
    """Test extras, with self-references (`pkg[other]`) expanded."""
    own = canonicalize_name(name) if name else None

    def refers(spec: object) -> list[str] | None:
        req = _req(spec) if isinstance(spec, str) else None
        return sorted(req.extras) if req and canonicalize_name(req.name) == own else None

    return _expand(project.get("optional-dependencies", {}), wanted, refers)


def _groups(groups: dict, wanted: tuple[str, ...] = TEST_GROUPS) -> list[str]:
    """PEP 735 groups (and PDM dev groups, the same shape), with include-group expanded."""
    def refers(item: object) -> list[str] | None:
        return [item["include-group"]] if isinstance(item, dict) and "include-group" in item \
            else None

    return _expand(groups, wanted, refers)


def _tool_groups(tool: dict) -> list[str]:
    """PDM dev groups and poetry's dependencies/dev groups (names only: poetry's `^1.2`
    constraints are not PEP 508, and the resolver picks a compatible version)."""
    out = _groups(tool.get("pdm", {}).get("dev-dependencies", {}))
    poetry = tool.get("poetry", {})
    tables = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
    tables += [g.get("dependencies", {}) for n, g in poetry.get("group", {}).items()
               if n in TEST_GROUPS and isinstance(g, dict)]
    for table in tables:
        out += [n for n, spec in table.items() if n.lower() != "python"
                and not (isinstance(spec, dict) and ("path" in spec or "git" in spec))]
    return out


def _requirements_file(path: Path, seen: set[Path]) -> list[str]:
    if path in seen or not path.is_file():
        return []
    seen.add(path)
    out: list[str] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            out += _requirements_file(path.parent / line.split(None, 1)[1], seen)
        elif line and not line.startswith(("#", "-", ".")):
            out.append(line.split(" --hash", 1)[0].strip())
    return out


def _tox(tree: Path, project: dict, name: str | None) -> list[str]:
    cfg = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        cfg.read(tree / "tox.ini", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return []
    out: list[str] = []
    for line in cfg.get("testenv", "deps", fallback="").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r"):
            out += _requirements_file(tree / line[2:].strip().replace("{toxinidir}/", ""), set())
        elif line and "{" not in line and not line.startswith(("-", ".")):
            out.append(line)
    extras = tuple(e.strip() for e in cfg.get("testenv", "extras", fallback="").replace(",", "\n")
                   .splitlines() if e.strip())
    return out + _extras(project, name, extras)


def _req(spec: str) -> Requirement | None:
    try:
        return Requirement(spec)
    except InvalidRequirement:
        return None


def _clean(specs: list[str], name: str | None) -> tuple[str, ...]:
    """Valid requirements, minus the target itself, deduplicated and sorted."""
    own = canonicalize_name(name) if name else None
    out = {str(r) for s in specs if (r := _req(s)) and canonicalize_name(r.name) != own
           and not r.url}
    return tuple(sorted(out))
