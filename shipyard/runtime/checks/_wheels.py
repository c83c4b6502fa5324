"""Built wheels kept by the tree they came from, and patched for a change to modules only.

Building the package under test is most of a warm check's fixed cost on a small suite (a
sandboxed build is about 0.7 s; six's whole suite runs in under half a second). Yet
consecutive checks build trees a file or two apart, and the head of one change is the base
of the next. A pure-Python wheel holds each module byte for byte, so when every file a
change touches is either such a module of the base's wheel or a file outside every package
directory (a test, a CI file), the head's wheel is the base's with those members replaced
and their RECORD lines rewritten — what a build would give. A static version bump
(`_bump.py`) and a README edit (`_readme.py`) are written into METADATA the same way.
Anything else is built as before: another build file, a module added or deleted, a file
the backend transforms (its bytes are not in the wheel), a member under `.data/`.

The cache is keyed by the tree's git id, the environment (its declarations and Python),
the version the build was given, and the installer: the same inputs give the same wheel.
Nothing of the tree runs here; the patch reads bytes and writes a zip.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

from ..gittree import read_blob
from ._bump import Bump, dist_info_of, metadata, renamed, version_bump
from ._focus import DOC_DIRS
from ._readme import described, is_readme
from ._testenv import Env, envs_dir
from ._util import changed_paths, git, pytest_rewrites, tree_id

__all__ = ["remember", "reuse"]

_VERSION = 1
_OUTSIDE = ("tests/", "test/", "testing/", ".github/", *DOC_DIRS)  # read by no build backend
# Top-level files no build backend reads: lock files and other tools' configuration (a file
# a wheel does hold, through an `include`, is a member and replaced as one)
_UNREAD = frozenset({"poetry.lock", "pdm.lock", "uv.lock", "Pipfile.lock",
                     ".pre-commit-config.yaml", ".flake8", ".coveragerc", ".editorconfig",
                     ".readthedocs.yml", ".readthedocs.yaml", "codecov.yml", ".codecov.yml",
                     ".gitlab-ci.yml", ".travis.yml", ".mailmap", ".git-blame-ignore-revs"})


def reuse(repo: Path, sha: str, base: str | None, tree: Path, env: Env, version: str,
          dist: Path, *, base_version: Callable[[], str] | None = None
          ) -> tuple[Path, str] | None:
    """(the wheel for `sha`'s tree in `dist`, how it was had), or None when it must be
    built: the same tree's wheel from the cache, else the base's patched with the change.
    `base_version` gives the version the base was built with: a release commit is tagged, so
    its nearest tag, the version a VCS-versioned build is given, is not its base's; a static
    version bump (`_bump.py`) patches the base's wheel built with the base's own."""
    if (hit := _entry(repo, sha, env, version)) is not None:
        wheel, _ = hit
        dist.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(wheel, dist / wheel.name)), "reused: the same tree was built before"
    if base is None:
        return None
    changes = changed_paths(repo, base, sha)
    bump, readme = _bump(repo, base, changes, tree), _readme(repo, base, changes, tree)
    hit = _entry(repo, base, env, base_version() if bump and base_version else version)
    if hit is None:
        return None
    wheel, members = hit
    in_metadata = {"pyproject.toml"} if bump else set()
    if readme is not None:
        in_metadata.add(readme[0])
    replaced = _replacements(changes, members, in_metadata)
    if replaced is None:
        return None
    name = wheel.name if bump is None else wheel.name.replace(f"-{bump[0]}-", f"-{bump[1]}-", 1)
    if name == wheel.name and bump is not None:
        return None  # the file name does not carry the version: build
    dist.mkdir(parents=True, exist_ok=True)
    out = dist / name
    if not _patch(wheel, out, {member: (tree / path).read_bytes()
                               for member, path in replaced.items()}, bump,
                  readme[1:] if readme else None):
        out.unlink(missing_ok=True)
        return None
    remember(repo, sha, env, version, out, tree)
    return out, (f"patched from the base's wheel: {len(replaced)} module(s) replaced "
                 f"({', '.join(sorted(replaced.values())[:5])})"
                 f"{f', version {bump[0]} -> {bump[1]}' if bump else ''}"
                 f"{f', description from {readme[0]}' if readme else ''}")


def _bump(repo: Path, base: str, changes: list[tuple[str, str]], tree: Path) -> Bump | None:
    """The version bump, when the change edits `pyproject.toml` and nothing of it but its
    static version (`_bump.py`)."""
    if ("M", "pyproject.toml") not in changes:
        return None
    try:
        return version_bump(git(repo, "show", f"{base}:pyproject.toml"),
                            (tree / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, RuntimeError):
        return None


def _readme(repo: Path, base: str, changes: list[tuple[str, str]], tree: Path
            ) -> tuple[str, str, str] | None:
    """(path, the base's text, the head's) when the change edits one top-level README,
    which a backend may have written into METADATA (`_readme.py`)."""
    edited = [path for status, path in changes if status == "M" and is_readme(path)]
    if len(edited) != 1 or len([p for _, p in changes if is_readme(p)]) != 1:
        return None
    try:
        old = read_blob(repo, base, edited[0])
        if old is None:
            return None
        return edited[0], old.decode("utf-8"), (tree / edited[0]).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def remember(repo: Path, sha: str, env: Env, version: str, wheel: Path, tree: Path) -> None:
    """Keep `wheel`, built from `tree` (commit `sha`), with each member's source path."""
    folder = _folder(repo, sha, env, version)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = f".{os.getpid()}.{threading.get_ident()}.tmp"
    shutil.copy2(wheel, folder / f"{wheel.name}{tmp}")
    os.replace(folder / f"{wheel.name}{tmp}", folder / wheel.name)
    doc = {"wheel": wheel.name, "members": _sources(wheel, tree)}
    (folder / f"index.json{tmp}").write_text(json.dumps(doc))
    os.replace(folder / f"index.json{tmp}", folder / "index.json")  # last: the entry is whole


def _entry(repo: Path, sha: str, env: Env, version: str) -> tuple[Path, dict[str, str]] | None:
    index = _folder(repo, sha, env, version) / "index.json"
    try:
        doc = json.loads(index.read_text())
    except (OSError, ValueError):
        return None
    wheel = index.parent / doc["wheel"]
    return (wheel, doc["members"]) if wheel.is_file() else None


def _folder(repo: Path, sha: str, env: Env, version: str) -> Path:
    key = hashlib.sha256(json.dumps([_VERSION, tree_id(repo, sha), str(env.path), version,
                                     env.installer]).encode()).hexdigest()
    return envs_dir().parent / "wheels" / key[:32]


def _sources(wheel: Path, tree: Path) -> dict[str, str]:
    """member -> tree path, for each member whose bytes are one tree file's, verbatim, at
    the same path or under `src/`."""
    out: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir() or ".dist-info/" in name or ".data/" in name:
                continue
            data = zf.read(info)
            for path in (name, f"src/{name}"):
                f = tree / path
                if f.is_file() and not f.is_symlink() and f.read_bytes() == data:
                    out[name] = path
                    break
    return out


def _replacements(changes: list[tuple[str, str]], members: dict[str, str],
                  in_metadata: set[str] | frozenset[str] = frozenset()
                  ) -> dict[str, str] | None:
    """member -> path for each module the change edits; None when the change touches
    anything a build could read differently. The edits of `in_metadata` (a version bump's
    `pyproject.toml`, a README) are METADATA's, which `_patch` applies."""
    by_path = {path: member for member, path in members.items()}
    packages = {path.rsplit("/", 1)[0] + "/" for path in by_path if "/" in path}
    replaced: dict[str, str] = {}
    for status, path in changes:
        if status == "M" and path in by_path:
            replaced[by_path[path]] = path
        elif status == "M" and path in in_metadata:
            continue
        elif path in by_path or any(path.startswith(p) for p in packages) \
                or not _outside(path):
            return None
    return replaced


def _outside(path: str) -> bool:
    """A file no build reads: tests, CI, docs (outside every package directory)."""
    return path.startswith(_OUTSIDE) or path in _UNREAD or \
        pytest_rewrites(path.rsplit("/", 1)[-1])


def _patch(src: Path, dest: Path, new: dict[str, bytes], bump: Bump | None = None,
           readme: tuple[str, str] | None = None) -> bool:
    """Copy wheel `src` to `dest` with the members in `new` replaced, the version bumped
    (`_bump.py`), the README (base's text, head's) described (`_readme.py`) and RECORD
    updated; False when the wheel's METADATA does not say what the edit starts from (build
    instead)."""
    with zipfile.ZipFile(src) as zin:
        infos = zin.infolist()
        names = [i.filename for i in infos]
        info_dir = dist_info_of(names, bump) if bump else _dist_info(names)
        new = dict(new)
        if bump or readme:
            meta = _metadata(zin, info_dir, bump, readme)
            if meta is None:
                return False
            new[f"{info_dir}/METADATA"] = meta.encode("utf-8")

        def name(member: str) -> str:
            return renamed(member, bump, info_dir) if bump and info_dir else member

        with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in infos:
                data = new.get(info.filename)
                if data is None:
                    data = zin.read(info)
                    if info.filename.endswith(".dist-info/RECORD"):
                        data = _record(data.decode("utf-8", "surrogateescape"), new,
                                       name).encode("utf-8", "surrogateescape")
                out = zipfile.ZipInfo(name(info.filename), date_time=info.date_time)
                out.external_attr, out.compress_type = info.external_attr, info.compress_type
                zout.writestr(out, data)
    return True


def _metadata(zin: zipfile.ZipFile, info_dir: str | None, bump: Bump | None,
              readme: tuple[str, str] | None) -> str | None:
    """The head's METADATA text, or None when the base's does not carry what the edits
    start from, or another member carries the README (a build may have generated it)."""
    if info_dir is None:
        return None
    try:  # a wheel built by the repository's backend: its metadata may be anything
        meta: str | None = zin.read(f"{info_dir}/METADATA").decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return None
    if bump and meta is not None:
        meta = metadata(meta, bump)
    if readme and meta is not None:
        longest = max(readme[0].splitlines() or [""], key=len).encode("utf-8")
        if len(longest) >= 16 and any(
                longest in zin.read(i) for i in zin.infolist()
                if not i.is_dir() and not i.filename.startswith(f"{info_dir}/")):
            return None
        meta = described(meta, *readme)
    return meta


def _dist_info(names: list[str]) -> str | None:
    folders = {n.split("/", 1)[0] for n in names if "/" in n and
               n.split("/", 1)[0].endswith(".dist-info")}
    return folders.pop() if len(folders) == 1 else None


def _record(text: str, new: dict[str, bytes], name: Callable[[str], str]) -> str:
    lines = []
    for line in text.splitlines():
        path = line.rsplit(",", 2)[0]
        if path in new:
            digest = base64.urlsafe_b64encode(hashlib.sha256(new[path]).digest()).rstrip(b"=")
            line = f"{name(path)},sha256={digest.decode()},{len(new[path])}"
        elif path:
            line = name(path) + line[len(path):]
        lines.append(line)
    return "\n".join(lines) + "\n"
