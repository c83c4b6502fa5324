"""A commit's real tree, read from git's objects — never shaped by the commit's own attributes.

`git archive` drops `export-ignore` files and expands `export-subst`; `git diff`
prints "Binary files differ" for `-diff` files and runs `textconv` drivers; the
working copy may hold anything. All of those are controlled by the change under
review (its `.gitattributes`), so checks, reviewers' diffs and the provenance
digest read blobs with `ls-tree` / `cat-file` and diff with `--text
--no-textconv --no-ext-diff` and no attributes file.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PLAIN_DIFF", "PLAIN_GIT", "Entry", "added_lines", "blobs", "entries", "fold_binary",
           "read_blob", "tree_digest", "write_tree"]

# Config and flags that keep attributes, external drivers and path quoting out of git's output.
PLAIN_GIT = ("-c", "core.attributesFile=/dev/null", "-c", "core.quotePath=false",
             "-c", "diff.external=")
PLAIN_DIFF = ("--text", "--no-textconv", "--no-ext-diff", "--no-color", "--no-renames")
_FILE_MODES = {"100644", "100755"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    mode: str   # 100644, 100755, 120000 (symlink), 160000 (submodule)
    oid: str    # the blob's object id
    path: str


def _git(repo: Path, *args: str, input: bytes | None = None, timeout: float = 300) -> bytes:
    proc = subprocess.run(["git", *PLAIN_GIT, *args], cwd=repo, input=input,
                          capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])} failed: "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def entries(repo: Path, sha: str) -> list[Entry]:
    """Every path of commit `sha`, with mode and blob id (`ls-tree -r -z --full-tree`)."""
    out = []
    for rec in _git(repo, "ls-tree", "-r", "-z", "--full-tree", sha).split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        mode, _kind, oid = meta.decode().split()
        out.append(Entry(mode=mode, oid=oid, path=path.decode("utf-8", "surrogateescape")))
    return out


def blobs(repo: Path, items: list[Entry]) -> Iterator[tuple[Entry, bytes]]:
    """The raw content of each (non-submodule) entry, streamed from one `cat-file --batch`."""
    wanted = [e for e in items if e.mode != "160000"]
    if not wanted:
        return
    proc = subprocess.Popen(["git", *PLAIN_GIT, "cat-file", "--batch"], cwd=repo,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def feed() -> None:  # a thread: git's output must be read while the requests go in
        with stdin:
            stdin.write("".join(f"{e.oid}\n" for e in wanted).encode())

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        for e in wanted:
            header = stdout.readline().split()
            if len(header) != 3:
                raise RuntimeError(f"git cat-file cannot read {e.path} ({e.oid})")
            data = stdout.read(int(header[2]))
            stdout.read(1)  # the newline after each object
            yield e, data
    finally:
        proc.kill()
        proc.wait()
        feeder.join(timeout=5)


def read_blob(repo: Path, sha: str, path: str) -> bytes | None:
    """The content of `path` in commit `sha`, or None when it is not a file there."""
    proc = subprocess.run(["git", *PLAIN_GIT, "cat-file", "blob", f"{sha}:{path}"], cwd=repo,
                          capture_output=True, timeout=60, check=False)
    return proc.stdout if proc.returncode == 0 else None


def write_tree(repo: Path, sha: str, dest: Path, *, paths: set[str] | None = None) -> Path:
    """Write commit `sha` (or only `paths` of it) into `dest`: files, exec bits, symlinks.

    A symlink leaving `dest` is refused (as tarfile's "data" filter did for `git archive`)."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    chosen = [e for e in entries(repo, sha) if paths is None or e.path in paths]
    # Without a symlink in the tree, a relative path with no `..` stays inside `root`: the
    # kernel's resolution of each written path (a third of a check's time on a tree of 1,000
    # files) is needed only where a link could lead it astray.
    links = any(e.mode == "120000" for e in chosen)
    made: set[Path] = {root}
    for e, data in blobs(repo, chosen):
        target = root / e.path
        if ".." in Path(e.path).parts or posixpath.isabs(e.path) or (
                links and not target.resolve().is_relative_to(root)):
            raise ValueError(f"{e.path!r} leaves the exported tree")
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        if e.mode == "120000":
            link = data.decode("utf-8", "surrogateescape")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(e.path), link))
            if posixpath.isabs(link) or resolved.startswith("../") or resolved == "..":
                raise ValueError(f"symlink {e.path!r} -> {link!r} points outside the tree")
            os.symlink(link, target)
        elif e.mode in _FILE_MODES:
            target.write_bytes(data)
            if e.mode == "100755":
                target.chmod(0o755)
    return dest


def tree_digest(repo: Path, sha: str) -> str:
    """sha256 over every entry of `sha`: mode, path and the sha256 of its content, in tree order.

    Unlike a `git archive` digest, no attribute of the tree can leave a file out."""
    items = entries(repo, sha)
    content = {e.path: hashlib.sha256(data).hexdigest() for e, data in blobs(repo, items)}
    h = hashlib.sha256()
    for e in items:  # a submodule is named by its commit
        h.update(f"{e.mode} {content.get(e.path, e.oid)} ".encode())
        h.update(e.path.encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()


def added_lines(repo: Path, base: str, head: str, path: str) -> set[int]:
    """Line numbers (at `head`) that `path` gains in base..head, whatever its attributes say."""
    out = _git(repo, "diff", *PLAIN_DIFF, "--unified=0", base, head, "--",
               f":(literal){path}").decode("utf-8", "replace")
    lines: set[int] = set()
    for line in out.splitlines():
        if line.startswith("@@ "):
            plus = line.split(" ")[2]  # +start[,count]
            start, _, count = plus[1:].partition(",")
            lines.update(range(int(start), int(start) + int(count or 1)))
    return lines


def fold_binary(diff: str) -> str:
    """`diff --text` output with each section that holds NUL bytes folded to one line.

    `--text` shows files a `-diff` attribute would hide; truly binary content (which the
    hygiene and secrets checks judge) is named instead of pasted into prompts and rows."""
    sections = diff.split("\ndiff --git ")
    out = []
    for i, sec in enumerate(sections):
        if "\0" in sec:
            header = sec.split("\n", 1)[0]
            sec = f"{header}\n[binary content not shown: NUL bytes; the hygiene and secrets checks judge it]"
        out.append(sec if i == 0 else "diff --git " + sec)
    return "\n".join(out)
