"""One driver per run: a process drives a run only while it holds the run's lock file
(`.shipyard/runs/<run>/driver.lock`, holding its pid). A second driver is refused, not
queued; `status` reports who drives."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import RunStateConflict

__all__ = ["driver", "driving"]


def lock_path(root: Path, run_id: str) -> Path:
    path = root / ".shipyard" / "runs" / run_id / "driver.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def driving(root: Path, run_id: str) -> Iterator[None]:
    """Hold the run's lock while driving it; a second driver is refused, not queued."""
    with open(lock_path(root, run_id), "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            pid = fh.read().strip() or "?"
            raise RunStateConflict(f"run {run_id} is being driven by another process (pid {pid}); "
                                   f"wait for it to finish (`shipyard status {run_id}`).") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def driver(root: Path, run_id: str) -> int | None:
    """The pid holding the run's lock, if another process is driving it now."""
    with open(lock_path(root, run_id), "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            text = fh.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None
