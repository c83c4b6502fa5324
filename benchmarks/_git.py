"""Git for the benchmarks: one way to run it, and one to start a repository of their own.

Imported as `_git` by the scripts in this folder (run as `python benchmarks/NAME.py`, so
the folder is on sys.path).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["first_commit", "git", "identify"]


def git(repo: Path, *args: str) -> str:
    """`git ARGS` in `repo`, its output stripped; a failure raises (a benchmark stops)."""
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def identify(repo: Path) -> None:
    """A committer for the benchmark's own commits, whatever the machine's git config."""
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")


def first_commit(repo: Path, message: str = "base") -> str:
    """`repo`'s files as the first commit of a new repository on `main`; its id."""
    git(repo, "init", "-q", "-b", "main")
    identify(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")
