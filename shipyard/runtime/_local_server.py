"""The embedded model's server: llama-cpp-python's OpenAI-compatible server for one GGUF
file on a free loopback port, started on first use and reused for the rest of the process.

**Kept warm across processes.** A run moves through several processes (`run-feature`, then
one `approve` per gate); each would otherwise load the model again and lose the server's
cached prompt prefix. So a server outlives the process that started it by
``SHIPYARD_LOCAL_KEEP_WARM_S`` seconds (default 600) after its last request: its state
file in the cache (`servers/*.json`) lets a later process adopt it, and every request
touches its lease. ``SHIPYARD_LOCAL_KEEP_WARM_S=0`` restores "dies with its process" —
even when the process is killed with SIGKILL (see :func:`_bootstrap_source`).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import RunError, UserError
from ._llama_patch import amx_workaround
from ._local_weights import _INSTALL_HINT, Progress, _file_lock, cache_dir, local_extra_missing
from ._prompt_cache import CACHE_BYTES

__all__ = ["KEEP_WARM_ENV", "LocalServer", "ensure_server", "stop_servers", "touch_lease"]

KEEP_WARM_ENV = "SHIPYARD_LOCAL_KEEP_WARM_S"
DEFAULT_KEEP_WARM_S = 600


@dataclass(frozen=True, kw_only=True, slots=True)
class LocalServer:
    base_url: str  # "http://127.0.0.1:PORT/v1"
    model: str  # the name to send as `model` (the server's alias for the file)
    pid: int
    gguf: Path


@dataclass(kw_only=True, slots=True)
class _Running:
    server: LocalServer
    proc: subprocess.Popen[bytes] | None  # None: adopted from another process
    watchdog_fd: int  # our end of the pipe; closing it (or dying) ends the server's tie to us
    log_path: Path
    owner_pid: int  # a forked child inherits this registry but must not use or stop it
    lease: Path | None  # touched on every request while the server is kept warm

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return _pid_alive(self.server.pid) and _answers(self.server.base_url)


_servers: dict[Path, _Running] = {}
_lock = threading.Lock()  # parallel reviewers may all ask for the server at once
_hooks_installed = False


def ensure_server(gguf: Path, *, n_threads: int | None = None, ctx: int = 8192,
                  progress: Progress | None = None, startup_timeout: float = 180.0) -> LocalServer:
    """Return the running server for `gguf`, starting it on first use in this process."""
    say = progress or (lambda _msg: None)
    gguf = gguf.expanduser().absolute()
    with _lock:
        running = _servers.get(gguf)
        if running is not None and running.owner_pid != os.getpid():
            running = None  # we are a forked child: the server belongs to our parent
        if running is not None and running.alive():
            touch_lease(gguf)
            return running.server
        if running is not None:  # it died under us: say so, then start a fresh one
            say(f"local model server (pid {running.server.pid}) exited; restarting it")
            _stop(running)
        if missing := local_extra_missing():
            raise UserError(f"the local model server needs shipyard[local] "
                            f"(missing: {', '.join(missing)}). Run: {_INSTALL_HINT}  "
                            f"(llama-cpp-python builds from source: ~7 min on 2 cores).")
        _install_exit_hooks()
        threads, warm = n_threads or _cpu_count(), keep_warm_s()
        state = _state_path(gguf, threads, ctx)
        with _file_lock(state.with_suffix(".lock")) if warm else contextlib.nullcontext():
            running = _adopt(state, gguf, say) if warm else None
            if running is None:
                running = _start(gguf, threads, ctx, say, startup_timeout,
                                 lease=state.with_suffix(".lease") if warm else None)
                if warm:
                    _write_state(state, running)
                    say(f"the server stays warm {warm} s after its last request for later "
                        f"commands ({KEEP_WARM_ENV}=0 stops it with this process)")
        _servers[gguf] = running
        touch_lease(gguf)
        return running.server


def keep_warm_s() -> int:
    """Seconds a server outlives its last request (0: it dies with its process)."""
    raw = os.environ.get(KEEP_WARM_ENV, str(DEFAULT_KEEP_WARM_S))
    try:
        return max(0, int(raw))
    except ValueError:
        raise UserError(f"{KEEP_WARM_ENV}={raw!r} is not a number of seconds; "
                        f"use e.g. {DEFAULT_KEEP_WARM_S}, or 0 to stop the server with "
                        f"each process") from None


def touch_lease(gguf: Path) -> None:
    """Mark the server of `gguf` as in use now (it exits `keep_warm_s` after the last mark)."""
    running = _servers.get(gguf.expanduser().absolute())
    if running is not None and running.lease is not None:
        with contextlib.suppress(OSError):
            running.lease.touch()


def _state_path(gguf: Path, threads: int, ctx: int) -> Path:
    key = hashlib.sha256(f"{gguf}|{threads}|{ctx}|{_server_code()}".encode()).hexdigest()[:16]
    return cache_dir() / "servers" / f"{key}.json"


@functools.cache
def _server_code() -> str:
    """A digest of the code the server process runs: the interpreter and our patches to
    llama-cpp-python. A warm server started by another checkout or an older shipyard
    keeps its own patches for as long as requests reach it, so it is not adopted: a
    benchmark of the sampler patch once ran whole on the previous version's server."""
    here = Path(__file__).parent
    h = hashlib.sha256(f"{sys.executable}|{_bootstrap_source()}".encode())
    for name in ("_llama_patch.py", "_lazy_grammar.py", "_prompt_cache.py"):
        with contextlib.suppress(OSError):
            h.update((here / name).read_bytes())
    return h.hexdigest()


def _write_state(state: Path, running: _Running) -> None:
    state.parent.mkdir(parents=True, exist_ok=True)
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": running.server.pid, "base_url": running.server.base_url,
                               "model": running.server.model, "gguf": str(running.server.gguf),
                               "log": str(running.log_path)}))
    tmp.replace(state)


def _adopt(state: Path, gguf: Path, say: Progress) -> _Running | None:
    """The warm server another process left for `gguf`, if it still answers."""
    try:
        data = json.loads(state.read_text())
        server = LocalServer(base_url=data["base_url"], model=data["model"], pid=int(data["pid"]),
                             gguf=Path(data["gguf"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if server.gguf != gguf or not _pid_alive(server.pid) or not _answers(server.base_url):
        return None
    say(f"reusing the warm local model server (pid {server.pid}, {server.base_url})")
    return _Running(server=server, proc=None, watchdog_fd=-1, log_path=Path(data.get("log", "")),
                    owner_pid=os.getpid(), lease=state.with_suffix(".lease"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/models", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop_servers() -> None:
    """Stop every server this process started (idempotent; registered with atexit)."""
    with _lock:
        for running in list(_servers.values()):
            _stop(running)
        _servers.clear()


def _start(gguf: Path, n_threads: int, ctx: int, say: Progress, startup_timeout: float, *,
           lease: Path | None) -> _Running:
    port = _free_port()
    alias = gguf.stem
    args = ["--model", str(gguf), "--model_alias", alias, "--host", "127.0.0.1",
            "--port", str(port), "--n_threads", str(n_threads),
            "--n_threads_batch", str(n_threads), "--n_ctx", str(ctx),
            # mlock of the whole file fails (noisily) under the usual container limits
            "--use_mlock", "False",
            # The server's default keeps logits for every prompt token (for logprobs, which
            # nothing here asks for): the output layer over 151,936 tokens for each one, and
            # a 600 KB copy each into a 5 GB array. Measured: 14.3 -> 11.5 ms a prompt token.
            "--logits_all", "False",
            # several prompts' KV states, restored by longest prefix (_prompt_cache)
            "--cache", "True", "--cache_type", "ram", "--cache_size", str(CACHE_BYTES)]
    log_dir = cache_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    _prune_logs(log_dir)
    log_path = log_dir / f"llama-server-{os.getpid()}-{port}.log"
    read_fd, write_fd = os.pipe()  # both ends close-on-exec; only read_fd is passed on
    say(f"starting local model server for {gguf.name} on 127.0.0.1:{port} "
        f"({n_threads} threads, ctx {ctx}); log: {log_path}")
    started = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # fixed argv: our own interpreter
            [sys.executable, "-c", _bootstrap_source(), str(read_fd),
             amx_workaround(), str(lease or ""), str(keep_warm_s() if lease else 0), *args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            pass_fds=(read_fd,), env=_server_env(),
            # Own session: a Ctrl-C in the terminal reaches the CLI, which then stops
            # the server in order, instead of killing it mid-reply.
            start_new_session=True)
    os.close(read_fd)
    base_url = f"http://127.0.0.1:{port}/v1"
    running = _Running(server=LocalServer(base_url=base_url, model=alias, pid=proc.pid,
                                          gguf=gguf),
                       proc=proc, watchdog_fd=write_fd, log_path=log_path,
                       owner_pid=os.getpid(), lease=lease)
    if lease is not None:
        lease.parent.mkdir(parents=True, exist_ok=True)
        lease.touch()
    try:
        _wait_healthy(running, started + startup_timeout)
    except BaseException:
        _stop(running)
        raise
    say(f"local model server ready in {time.monotonic() - started:.1f}s (pid {proc.pid})")
    return running


def _bootstrap_source() -> str:
    """Code the server subprocess runs before llama_cpp.server's own __main__.

    argv: ``FD AMX-WORKAROUND LEASE KEEP-WARM-S server-args...``. A thread blocks reading
    the pipe whose write end only the parent holds. When the parent exits for any reason —
    normal exit, Ctrl-C, crash, SIGKILL — the kernel closes that end and the read returns.
    Then the server exits at once, or, kept warm, once its lease file has not been touched
    for KEEP-WARM-S seconds. Unlike prctl(PR_SET_PDEATHSIG), this is tied to the parent
    *process*, not to the thread that happened to start the server (LangGraph runs nodes
    in worker threads), and it works on macOS too.
    """
    return (
        "import os, sys, threading, runpy, time\n"
        "fd, lease, warm = int(sys.argv[1]), sys.argv[3], int(sys.argv[4])\n"
        "def _idle():\n"
        "    try:\n"
        "        return time.time() - os.stat(lease).st_mtime\n"
        "    except OSError:\n"
        "        return float('inf')\n"
        "def _watch():\n"
        "    try:\n"
        "        os.read(fd, 1)\n"
        "        while warm and lease and _idle() < warm:\n"
        "            time.sleep(min(10.0, max(0.5, warm / 10)))\n"
        "    finally:\n"
        "        os._exit(0)\n"
        "threading.Thread(target=_watch, daemon=True, name='shipyard-watchdog').start()\n"
        "from shipyard.runtime.local import patch_llama_cpp\n"
        "print('shipyard: AMX workaround:', patch_llama_cpp(amx=sys.argv[2]), flush=True)\n"
        "sys.argv = ['llama_cpp.server'] + sys.argv[5:]\n"
        "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)\n"
    )


def _wait_healthy(running: _Running, deadline: float) -> None:
    url = running.server.base_url + "/models"
    while True:
        code = running.proc.poll()
        if code is not None:
            raise RunError(f"the local model server exited with code {code} while starting.\n"
                           f"{_log_tail(running.log_path)}\nFull log: {running.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise RunError(f"the local model server did not answer on {url} in time.\n"
                           f"{_log_tail(running.log_path)}\nFull log: {running.log_path}")
        time.sleep(0.25)


def _stop(running: _Running) -> None:
    """Let go of a server: one kept warm lives on until its lease runs out; any other
    server this process started is stopped now."""
    proc = running.proc
    if running.owner_pid != os.getpid() or proc is None:
        return
    try:
        os.close(running.watchdog_fd)  # the watchdog alone would stop it; be explicit too
    except OSError:
        pass
    if running.lease is None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _install_exit_hooks() -> None:
    """Stop servers on normal exit and on SIGTERM/SIGHUP (which skip atexit by default)."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(stop_servers)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread; the watchdog suffices
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is None or signal.getsignal(sig) is not signal.SIG_DFL:
            continue  # respect a handler someone else installed

        def _handler(signum: int, _frame: object) -> None:
            _stop_quietly()
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)  # die with the original signal, as expected

        signal.signal(sig, _handler)


def _stop_quietly() -> None:
    # Called from a signal handler: the lock may be held by the interrupted frame.
    # We are exiting anyway and the watchdog is the backstop: never fail here.
    for running in list(_servers.values()):
        with contextlib.suppress(Exception):
            _stop(running)


def _log_tail(log_path: Path, lines: int = 25) -> str:
    try:
        text = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no server log)"
    return "server log (last lines):\n" + "\n".join(text[-lines:])


def _prune_logs(log_dir: Path, keep: int = 20) -> None:
    """Every server start writes a log; keep the newest few so the cache does not grow forever."""
    try:
        logs = sorted(log_dir.glob("llama-server-*.log"), key=lambda p: p.stat().st_mtime)
        for old in logs[:-keep] if len(logs) > keep else []:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # another process pruned at the same time; harmless


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_count() -> int:
    # Cores this process may use (container/affinity aware), not the host's total.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _server_env() -> dict[str, str]:
    """The parent's environment minus anything that looks like a credential."""
    secret = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
    return {k: v for k, v in os.environ.items() if not secret.search(k)}
