"""Run untrusted code (model-written tests) in a bubblewrap sandbox.

What the sandbox guarantees, when `bwrap` is installed:

- the root filesystem is read-only; only the exported copy of the tree under test
  and a scratch directory are writable;
- the user's repository, shipyard's state (worktrees, keys, ledger) and common
  credential folders (~/.ssh, ~/.aws, ...) are hidden behind empty tmpfs mounts,
  credential files (~/.netrc, ~/.git-credentials, ...) behind an empty file;
- no network, and its own PID namespace: when the command ends, every process it
  started ends too — nothing lingers to act later (e.g. to approve a gate);
- a throwaway HOME;
- with `limits`: an address-space, process-count and file-size cap (`prlimit`, applied
  inside the sandbox so the process count is that of the sandbox's user namespace)
  and a size cap on its /tmp — a memory hog, fork bomb or disk filler fails inside
  instead of taking the machine down. (Root is exempt from the process cap: the PID
  namespace and the caller's timeout still end whatever it started.)

Without bwrap (`[policy] sandbox = "auto"`), the command still runs on an exported
copy with a scrubbed environment and its process group killed afterwards, and G2
reports the missing sandbox to the human. `sandbox = "required"` makes that an
error instead.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SECRET_DIRS", "SECRET_FILES", "Limits", "bwrap_path", "wrap"]

SECRET_DIRS = (".ssh", ".aws", ".gnupg", ".config", ".docker", ".kube", ".azure", ".cache",
               ".local/state/shipyard")
# Credential *files* in HOME: each is covered by an empty read-only file.
SECRET_FILES = (".netrc", ".git-credentials", ".pypirc", ".npmrc", ".pgpass", ".gitconfig",
                ".boto", ".s3cfg", ".yarnrc", ".condarc")


_MIB = 1 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Resource caps for one sandboxed command (bytes and counts)."""

    memory: int = 4096 * _MIB      # address space per process (RLIMIT_AS)
    processes: int = 512           # processes of the sandbox's user (RLIMIT_NPROC)
    file_size: int = 512 * _MIB    # largest file it may write (RLIMIT_FSIZE)
    tmp_size: int = 1024 * _MIB    # its private /tmp (tmpfs size)

    def prlimit(self) -> list[str]:
        return ["prlimit", f"--as={self.memory}", f"--nproc={self.processes}",
                f"--fsize={self.file_size}", "--core=0", "--"]


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def wrap(argv: Sequence[str], *, workdir: Path, writable: Iterable[Path],
         hide: Iterable[Path] = (), readable: Iterable[Path] = (),
         limits: Limits | None = None) -> list[str]:
    """`argv` wrapped in bwrap; raises FileNotFoundError when bwrap is not installed.

    `readable` paths are mounted read-only after the tmpfs mounts: an interpreter or
    virtualenv that lives under /tmp (or under a hidden folder) must stay usable."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise FileNotFoundError("bwrap")
    tmp = ["--size", str(limits.tmp_size)] if limits else []
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            *tmp, "--tmpfs", "/tmp", "--unshare-all", "--die-with-parent", "--new-session",
            "--dir", "/tmp/home", "--setenv", "HOME", "/tmp/home"]
    home = Path(os.path.expanduser("~"))
    hidden = [home / d for d in SECRET_DIRS] + [Path(p) for p in hide]
    for path in _existing_dirs(hidden):
        args += ["--tmpfs", str(path)]
    for path in _existing_dirs(readable):
        args += ["--ro-bind", str(path), str(path)]
    for path in writable:  # after the tmpfs mounts, so a writable dir under /tmp stays visible
        args += ["--bind", str(path), str(path)]
    # Last, so that no mount above can re-expose them: the signing key and credential files.
    for path in _existing_dirs([_key_dir()]):
        args += ["--tmpfs", str(path)]
    for path in (home / f for f in SECRET_FILES):
        if path.is_file():
            args += ["--ro-bind", str(_empty_file()), str(path)]
    capped = [*limits.prlimit(), *argv] if limits else list(argv)
    return [*args, "--chdir", str(workdir), "--", *capped]


def _key_dir() -> Path:
    """The signing key's folder, wherever SHIPYARD_KEYS_DIR put it."""
    from .keys import key_dir

    return key_dir()


_EMPTY: list[Path] = []


def _empty_file() -> Path:
    """An empty read-only file to mount over credential files (a bound /dev/null is
    unreadable inside the sandbox's nodev mounts); made again if /tmp was cleaned. One
    per user, kept (a file per process was left behind by every run): used only when it
    is still a regular, empty, read-only file of ours, else a private one is made."""
    if not _EMPTY or not _fit(_EMPTY[0]):
        shared = Path(tempfile.gettempdir()) / f"shipyard-empty-{os.getuid()}"
        try:
            os.close(os.open(shared, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o444))
        except OSError:  # there already: another process of ours made it, or not
            pass
        if not _fit(shared):  # someone else's, a link, or written to: a private one
            fd, name = tempfile.mkstemp(prefix="shipyard-empty-")
            os.close(fd)
            os.chmod(name, 0o444)
            shared = Path(name)
        _EMPTY[:] = [shared]
    return _EMPTY[0]


def _fit(path: Path) -> bool:
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and st.st_size == 0 \
        and not st.st_mode & 0o222


def _existing_dirs(paths: Iterable[Path]) -> list[Path]:
    out = []
    for p in paths:
        try:
            real = p.resolve()
        except OSError:
            continue
        if real.is_dir() and real != Path("/") and real not in out:
            out.append(real)
    return out
