"""On a terminal, run-feature shows the decision narrative and asks at each human gate."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from conftest import git


def _read_until(fd: int, needle: bytes, timeout: float = 60) -> bytes:
    buf, deadline = b"", time.monotonic() + timeout
    while needle not in buf:
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {needle!r}; got {buf[-800:]!r}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
    return buf


def test_terminal_user_is_asked_at_g0_and_a_reject_ends_the_run(make_repo):
    repo = make_repo()
    master, slave = os.openpty()
    exe = str(Path(sys.executable).parent / "shipyard")
    proc = subprocess.Popen([exe, "run-feature", "Add multiply", "--repo", str(repo)],
                            stdin=slave, stdout=subprocess.PIPE, stderr=slave,
                            env={**os.environ, "COLUMNS": "120"}, close_fds=True)
    os.close(slave)
    try:
        screen = _read_until(master, b"approve / revise / reject / later")
        assert b"G0" in screen and b"Acceptance criteria" in screen
        os.write(master, b"reject\n")
        _read_until(master, b"why")
        os.write(master, b"out of scope\n")
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert git(repo, "branch", "--list", "shipyard/*") == ""
    assert out.decode().strip()  # the run id, for scripts
