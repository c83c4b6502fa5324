"""Run a tool in a subprocess: timeout, scrubbed environment, whole process group killed.

Generated code and third-party tools run only through here (DESIGN invariant 4):
API keys never reach them, and a hung tool cannot outlive its timeout because
it runs in its own session and the whole group is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcResult", "in_background", "run", "scrubbed_env"]

# Niceness for the tools started from this context (`in_background`).
_NICENESS: ContextVar[int] = ContextVar("shipyard_niceness", default=0)

# Variables a tool legitimately needs. Everything else — in particular every
# *_API_KEY, *_TOKEN and cloud credential — is dropped.
_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TMPDIR", "USER", "LOGNAME",
         "SHELL", "TZ", "SYSTEMROOT", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass(frozen=True, kw_only=True, slots=True)
class ProcResult:
    args: list[str]
    returncode: int | None  # None when the process timed out or could not start
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    missing: bool = False  # the executable does not exist

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a tool sees: a short allow-list plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k in _KEEP}
    env.setdefault("PATH", os.defpath)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["NO_COLOR"] = "1"
    if extra:
        env.update(extra)
    return env


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | str,
    timeout: float = 600,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> ProcResult:
    """Run `args` in `cwd`; never raises for tool failures — read the result."""
    argv = [os.fspath(a) for a in args]
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env) if env is not None else scrubbed_env(),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # own process group, so killpg reaches grandchildren
        )
    except FileNotFoundError as exc:
        return ProcResult(args=argv, returncode=None, stdout="", stderr=str(exc),
                          duration_s=time.perf_counter() - start, missing=True)
    if niceness := _NICENESS.get():
        try:  # set after the start: preexec_fn is not safe beside the checks' threads
            ours = os.getpriority(os.PRIO_PROCESS, 0)
            os.setpriority(os.PRIO_PROCESS, proc.pid, min(19, ours + niceness))
        except OSError:
            pass
    try:
        out, err = proc.communicate(input=stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        return ProcResult(args=argv, returncode=None, stdout=out, stderr=err,
                          duration_s=time.perf_counter() - start, timed_out=True)
    except BaseException:
        _kill_group(proc)
        raise
    # Children a tool left running (a test that spawned a daemon) die with it.
    _kill_group(proc)
    return ProcResult(args=argv, returncode=proc.returncode, stdout=out, stderr=err,
                      duration_s=time.perf_counter() - start)


def in_background(niceness: int = 10) -> None:
    """Start the tools this context runs from now on at a lower priority: they take the
    cores the foreground work (the tests) leaves idle, not a share of its own."""
    _NICENESS.set(niceness)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if proc.poll() is None:
            proc.kill()
