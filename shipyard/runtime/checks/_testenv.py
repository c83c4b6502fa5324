"""The environment the target's tests run in: built from its declarations, cached, isolated.

- **Dependencies** (`_declared.py`) are installed into a virtualenv of their own under
  `~/.cache/shipyard/envs/<key>` (`SHIPYARD_ENVS_DIR` moves it), keyed by the hash of
  the declarations: a warm check reuses it. It is created outside the sandbox — the
  package index is needed and the user's pip configuration applies — from declarations
  only, so no code of the target runs there. `uv` when installed (measured ~10× faster
  than venv+pip on a fresh environment), else venv+pip.
- **The target itself** is built into a wheel inside the sandbox (its build backend is
  repository code) with no network and no index, its version pretended for
  setuptools-scm/hatch-vcs (the export has no .git), and unpacked into a per-tree
  `site` directory, layered with the environment in a throwaway venv (`layered_venv`).
  The user's `.venv` is never touched.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..proc import run as run_proc
from ..proc import scrubbed_env
from ._declared import Declarations
from ._interpreter import ours, venv_config
from ._plugins import VERSION as PLUGINS_VERSION
from ._plugins import rewrite_plugins

__all__ = [
    "TOOL_PACKAGES",
    "Env",
    "EnvError",
    "envs_dir",
    "find_uv",
    "install_wheel",
    "layered_venv",
    "prepare_env",
    "pretend_version_env",
]

_PASS_THROUGH = re.compile(r"^(PIP_|UV_|HTTPS?_PROXY$|NO_PROXY$|ALL_PROXY$|SSL_CERT_|REQUESTS_CA)",
                           re.IGNORECASE)
_PIP_TO_UV = {"PIP_INDEX_URL": "UV_INDEX_URL", "PIP_EXTRA_INDEX_URL": "UV_EXTRA_INDEX_URL",
              "PIP_FIND_LINKS": "UV_FIND_LINKS"}


# What runs the tests: a target cannot replace these (a committed `coverage/` package).
TOOL_PACKAGES = frozenset({"coverage", "pytest", "_pytest", "pluggy", "py"})


class EnvError(RuntimeError):
    """The environment could not be created (index unreachable, a requirement unresolvable)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Env:
    path: Path
    python: Path
    installer: str     # "uv" or "pip"
    versions: dict     # distribution -> version, as installed
    reused: bool       # True when the cache already held it

    def describe(self) -> str:
        v = self.versions
        return (f"env {self.path.name} ({self.installer}, Python {v.get('python', '?')}, "
                f"pytest {v.get('pytest', '?')}, coverage {v.get('coverage', '?')}"
                f"{', reused' if self.reused else ', created'})")


def envs_dir() -> Path:
    return Path(os.environ.get("SHIPYARD_ENVS_DIR")
                or Path.home() / ".cache" / "shipyard" / "envs")


def base_python() -> str:
    """The interpreter environments are made from by default: the one behind shipyard's
    own venv (`_interpreter.choose` picks the target's)."""
    return ours().path


def prepare_env(decl: Declarations, timeout: float, python: str | None = None) -> Env:
    """The cached environment for `decl` on the interpreter `python` (default: the one
    behind shipyard's venv; `_interpreter.py` picks the target's), created on first use
    (one creator at a time)."""
    python = python or base_python()
    root = envs_dir()
    root.mkdir(parents=True, exist_ok=True)
    path = root / decl.key(python)
    with open(root / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (path / "shipyard-env.json").is_file():
            return _load(path, reused=True, timeout=timeout)
        tmp = root / f"{path.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            installer = _create(tmp, python, [*decl.requirements, *decl.build_requires], timeout)
            # venvs hard-code their own path in scripts: create at the final path's name
            # first, then move — fine for `python -m`, which is all we use.
            versions = _versions(tmp)
            _compile_bytecode(tmp, timeout)
            (tmp / "shipyard-env.json").write_text(json.dumps(
                {"installer": installer, "versions": versions, "bytecode": True,
                 "requirements": decl.requirements, "build_requires": decl.build_requires},
                indent=1))
            shutil.rmtree(path, ignore_errors=True)
            tmp.rename(path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return _load(path, reused=False, timeout=timeout)


def _load(path: Path, *, reused: bool, timeout: float) -> Env:
    """The environment at `path` (its lock held); one cached before its bytecode was
    compiled, or its pytest plugins rewritten (`_plugins.py`), gets them now, once."""
    doc = json.loads((path / "shipyard-env.json").read_text())
    if not doc.get("bytecode") or doc.get("plugins_rewritten") != PLUGINS_VERSION:
        if not doc.get("bytecode"):
            _compile_bytecode(path, timeout)
        doc["bytecode"] = True
        doc["plugins_rewritten"] = PLUGINS_VERSION
        doc["rewritten_plugin_modules"] = rewrite_plugins(path, timeout)
        (path / "shipyard-env.json").write_text(json.dumps(doc, indent=1))
    return Env(path=path, python=path / "bin" / "python", installer=doc["installer"],
               versions=doc["versions"], reused=reused)


def installer_env() -> dict[str, str]:
    """A scrubbed environment that keeps the user's index configuration (pip's and uv's)."""
    keep = {k: v for k, v in os.environ.items() if _PASS_THROUGH.match(k)}
    for pip_key, uv_key in _PIP_TO_UV.items():
        if pip_key in keep and uv_key not in keep:
            keep[uv_key] = keep[pip_key]
    return scrubbed_env(keep)


def _create(path: Path, python: str, reqs: list[str], timeout: float) -> str:
    """Create a venv at `path` holding `reqs`; uv if available (falls back to pip)."""
    reqfile = path.parent / f"{path.name}.requirements.txt"
    reqfile.write_text("\n".join(reqs) + "\n")
    env, why = installer_env(), ""
    try:
        if uv := find_uv():
            res = run_proc([uv, "venv", "-q", "--python", python, str(path)], cwd=path.parent,
                           env=env, timeout=120)
            if res.ok:
                res = run_proc([uv, "pip", "install", "-q", "--python", str(path / "bin" / "python"),
                                "-r", str(reqfile)], cwd=path.parent, env=env, timeout=timeout)
                if res.ok:
                    return "uv"
            why = f"uv: {(res.stderr or res.stdout).strip()[-600:]}\n"
            shutil.rmtree(path, ignore_errors=True)
        res = run_proc([python, "-m", "venv", str(path)], cwd=path.parent, env=env, timeout=120)
        if res.ok:
            res = run_proc([str(path / "bin" / "python"), "-m", "pip", "install", "-q",
                            "-r", str(reqfile)], cwd=path.parent, env=env, timeout=timeout)
        if res.ok:
            return "pip"
        why += f"pip: {(res.stderr or res.stdout).strip()[-600:]}"
        raise EnvError(why)
    finally:
        reqfile.unlink(missing_ok=True)


def _compile_bytecode(path: Path, timeout: float) -> None:
    """Compile the environment's modules once, where it is made. The tests run with it
    read-only (the sandbox), so Python could never cache their bytecode, and pytest,
    pluggy and coverage were compiled anew on every run: ~0.4 s of crashtest's 0.9 s warm
    check (Python 3.12.1). `-I -S`: no `.pth` file of an installed package runs outside
    the sandbox; compileall only compiles. A file that does not compile is left as it is."""
    for site in path.glob("lib/python*/site-packages"):
        run_proc([str(path / "bin" / "python"), "-I", "-S", "-m", "compileall", "-q", "-j0",
                  str(site)], cwd=path, env=scrubbed_env({}), timeout=timeout)


def find_uv() -> str | None:
    local = Path(sys.executable).parent / "uv"
    return str(local) if local.is_file() else shutil.which("uv")


def _versions(path: Path) -> dict[str, str]:
    """Installed distributions, read from their metadata (no code of theirs runs), and the
    venv's Python version as its pyvenv.cfg records it."""
    out = {"python": venv_config(path).get("version") or ".".join(map(str, sys.version_info[:3]))}
    for info in path.glob("lib/python*/site-packages/*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        out[name.lower().replace("_", "-")] = version
    return out


def layered_venv(env: Env, under_test: list[Path], dest: Path) -> Path:
    """A throwaway venv seeing `under_test[0]` (the wheel), then `env`, then the rest.

    The wheel comes first: the package under test must win over a copy of itself that a
    test tool depends on (pytest needs pygments, for one). It cannot shadow the tools
    themselves: `install_wheel` leaves out `TOOL_PACKAGES`. Written by hand — pyvenv.cfg,
    a python symlink and .pth files — in milliseconds.
    """
    base = Path(os.path.realpath(env.path / "bin" / "python"))  # the env's own interpreter
    env_site = next(env.path.glob("lib/python*/site-packages"))
    full = env.versions.get("python") or ".".join(map(str, sys.version_info[:3]))
    (dest / "bin").mkdir(parents=True, exist_ok=True)
    pkgs = dest / "lib" / env_site.parent.name / "site-packages"
    pkgs.mkdir(parents=True, exist_ok=True)
    (dest / "pyvenv.cfg").write_text(f"home = {base.parent}\ninclude-system-site-packages = "
                                     f"false\nversion = {full}\n")
    (dest / "bin" / "python").symlink_to(base)
    paths = [*under_test[:1], env_site, *under_test[1:]]
    (pkgs / "a_layers.pth").write_text("".join(f"{p}\n" for p in paths))
    return dest / "bin" / "python"


def pretend_version_env(name: str | None, version: str) -> dict[str, str]:
    """setuptools-scm / hatch-vcs read these instead of git (the export has no .git)."""
    env = {"SETUPTOOLS_SCM_PRETEND_VERSION": version}
    if name:
        env[f"SETUPTOOLS_SCM_PRETEND_VERSION_FOR_{re.sub(r'[-_.]+', '_', name).upper()}"] = version
    return env


def install_wheel(wheel: Path, site: Path) -> tuple[list[str], list[str]]:
    """Unpack `wheel` into `site` (no code runs): its top-level import names, and those
    left out because they would shadow the test tools (`TOOL_PACKAGES`)."""
    site.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)  # zipfile drops absolute paths and `..` components
    for data in site.glob("*.data"):
        for scheme in ("purelib", "platlib"):
            if (data / scheme).is_dir():
                for item in (data / scheme).iterdir():
                    shutil.move(str(item), site / item.name)
        shutil.rmtree(data)
    tops = sorted({p.stem if p.suffix == ".py" else p.name for p in site.iterdir()
                   if not p.name.endswith((".dist-info", ".pth")) and p.name != "__pycache__"})
    dropped = [t for t in tops if t in TOOL_PACKAGES]
    for name in dropped:
        shutil.rmtree(site / name, ignore_errors=True)
        (site / f"{name}.py").unlink(missing_ok=True)
    return [t for t in tops if t not in dropped], dropped
