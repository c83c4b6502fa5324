"""One tree made ready for its tests: built (sandboxed), installed as a wheel, sources hidden.

Import resolution, the choice made here: the wheel is unpacked into `<out>/site` and
run through a throwaway layered venv: the wheel first (so the package under test wins
over a copy a test tool depends on), then the environment, then the tree (what
`python -m pytest`'s cwd gave, which `-P` removes). Packages named like the test tools
(coverage, pytest) are not installed from the wheel. The package's own sources are
deleted from the copy the tests run in (at the root for a flat layout, under `src/`
for a src layout), so a conftest that puts the tree on `sys.path` or pytest's rootdir
insertion can only find the built package: a file the wheel leaves out fails the
tests instead of being imported from the tree. Sources that hold the tests
themselves (`pkg/tests/`) stay, and are then what is measured and imported.
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ..proc import run as run_proc
from ..proc import scrubbed_env
from . import _wheels as wheels
from ._bytecode import precompile, prerewrite
from ._declared import Declarations
from ._nox import read_noxfile
from ._testenv import Env, find_uv, install_wheel, layered_venv, pretend_version_env
from ._util import git
from .base import CheckContext

__all__ = ["Confine", "Setup", "logged", "read_tail", "setup_tree"]

Confine = Callable[[list[str], Path, Path], list[str]]
_TAIL = 64 << 10


@dataclass(frozen=True, kw_only=True)
class Setup:
    python: Path
    tree: Path                 # the copy the tests run in
    confine: Confine
    flags: tuple[str, ...] = ("-P",)
    site: Path | None = None   # the unpacked wheel
    source: str = "."          # what coverage measures
    layout: dict[str, str] = field(default_factory=dict)  # top-level name -> its path in the repo
    env: dict[str, str] = field(default_factory=dict)
    pytest_args: tuple[str, ...] = ()
    describe: str = ""
    details: dict = field(default_factory=dict)

    @classmethod
    def fallback(cls, python: str, tree: Path, confine: Confine) -> Setup:
        """The repository's own interpreter on the exported tree (policy test_env_fallback)."""
        return cls(python=Path(python), tree=tree, confine=confine, flags=(),
                   describe=f"target interpreter {python} (fallback: no isolated environment)")

    def repo_path(self, path: str) -> str:
        """A path a tool reported (in the tree copy or the installed wheel), repo-relative."""
        p = Path(path)
        if self.site is not None and p.is_absolute() and p.is_relative_to(self.site):
            rel = p.relative_to(self.site)
            top = rel.parts[0]
            # layout maps a top-level name to its own path in the repo ("src/pkg", "six"):
            # the installed file sits under that path's parent ("src/" + "pkg/mod.py")
            where = self.layout.get(top) or self.layout.get(top.removesuffix(".py"))
            return (Path(where).parent / rel).as_posix() if where else rel.as_posix()
        if p.is_absolute() and p.is_relative_to(self.tree):
            return p.relative_to(self.tree).as_posix()
        return p.as_posix()

    def where(self, text: str) -> tuple[str | None, int | None]:
        """The innermost traceback location in the repository (`path.py:LINE:`, --tb=short)."""
        import re

        for m in reversed(list(re.finditer(r"^(?P<path>[^\s:][^:\n]*\.py):(?P<line>\d+):", text,
                                           re.MULTILINE))):
            path = self.repo_path(m["path"]) if Path(m["path"]).is_absolute() else m["path"]
            if not Path(path).is_absolute() and (self.tree / path).is_file() or \
                    path != m["path"]:
                return path, int(m["line"])
        return None, None

    def manifest(self, out: Path, argv: list[str]) -> Path:
        """What ran, where, with which versions: written as evidence."""
        path = out / "environment.json"
        path.write_text(json.dumps({"command": argv, "python": str(self.python),
                                    "measured": self.source, "site": str(self.site or ""),
                                    "layout": self.layout, **self.details}, indent=1))
        return path


def setup_tree(ctx: CheckContext, env: Env, decl: Declarations, tree: Path, out: Path, sha: str,
               confine: Confine) -> Setup | str:
    """`tree` built and installed next to `env`; an error message when the build fails."""
    details = {"environment": str(env.path), "installer": env.installer,
               "versions": env.versions, "declarations": list(decl.sources),
               "requirements": list(decl.requirements)}
    plain = Setup(python=env.python, tree=tree, confine=confine, env={"PYTHONSAFEPATH": "1"},
                  pytest_args=_pytest_args(ctx, tree), describe=env.describe(), details=details)
    reused, rewritten = prerewrite(env.python, env.versions, next(env.path.glob(
        "lib/python*/site-packages")), [tree], _pytest_config(tree, plain.pytest_args),
        ctx.policy.timeout_s)
    details["test_bytecode"] = {"reused": reused, "rewritten": rewritten}
    if not decl.packaged:  # its modules import from the tree, as `python -m pytest` would
        return replace(plain, python=layered_venv(env, [tree], out / "venv"))
    version = _pretend_version(ctx, sha)
    base = ctx.base if sha == ctx.head else None
    had = wheels.reuse(ctx.repo, sha, base, tree, env, version, out / "dist",
                       base_version=lambda: _pretend_version(ctx, base) if base else version)
    if had is not None:
        wheel, how = had
    else:
        wheel, how = _build(ctx, env, decl, tree, out, version, confine), "built"
        if isinstance(wheel, str):
            return wheel
        wheels.remember(ctx.repo, sha, env, version, wheel, tree)
    site = out / "site"
    tops, dropped = install_wheel(wheel, site)
    reused, compiled = precompile(env.python, env.versions.get("python", ""), site,
                                  ctx.policy.timeout_s)
    layout = {t: loc for t in tops if (loc := _location(tree, t)) is not None}
    kept = [t for t in layout if not _remove_sources(tree / layout[t])]
    details.update(wheel=wheel.name, wheel_from=how, not_installed_tool_names=dropped,
                   bytecode={"reused": reused, "compiled": compiled})
    # the tree after the wheel: helpers outside the package stay importable
    python = layered_venv(env, [site, tree], out / "venv")
    return replace(plain, python=python, site=site, layout=layout,
                   source=str(tree) if kept else str(site),
                   describe=f"{plain.describe}; wheel {how.split(':')[0]}")


def _build(ctx: CheckContext, env: Env, decl: Declarations, tree: Path, out: Path,
           version: str, confine: Confine) -> Path | str:
    """Build the wheel inside the sandbox: no network, no index, no build isolation."""
    dist = out / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    before = _entries(tree)
    if uv := find_uv():  # ~4× faster than pip wheel here (1.3 s vs 5.3 s on a tiny package)
        argv = [uv, "build", "--wheel", "--no-build-isolation", "--offline", "--no-config", "-q",
                "--python", str(env.python), "--out-dir", str(dist), "."]
    else:
        argv = [str(env.python), "-P", "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                "--no-index", "-q", "-w", str(dist), "."]
    envvars = scrubbed_env({"PYTHONSAFEPATH": "1", "PIP_CONFIG_FILE": os.devnull,
                            **pretend_version_env(decl.name, version)})
    res = run_proc(confine(logged(argv, out / "build.log"), tree, out), cwd=tree, env=envvars,
                   timeout=ctx.policy.timeout_s)
    for extra in _entries(tree) - before:  # build/, *.egg-info: not part of the tree under test
        shutil.rmtree(extra, ignore_errors=True)
    wheels = sorted(dist.glob("*.whl"))
    if res.ok and len(wheels) == 1:
        return wheels[0]
    why = "timed out" if res.timed_out else f"exit {res.returncode}"
    return (f"building the package under test failed ({why}); it must build without network "
            f"from its declared build requirements ({', '.join(decl.build_requires)}). "
            f"Build output: {read_tail(out / 'build.log')[-900:]}")


def _entries(tree: Path) -> set[Path]:
    return {*tree.iterdir(), *((tree / "src").iterdir() if (tree / "src").is_dir() else ())}


def _pretend_version(ctx: CheckContext, sha: str) -> str:
    """The nearest tag's version (the export has no .git for setuptools-scm to read)."""
    try:
        tag = git(ctx.repo, "describe", "--tags", "--abbrev=0", sha).strip()
        return str(Version(tag.removeprefix("v")))
    except (RuntimeError, InvalidVersion):
        return "0.0.0"


def _location(tree: Path, top: str) -> str | None:
    for prefix in ("", "src/"):
        if (tree / prefix / top).is_dir() or (tree / prefix / f"{top}.py").is_file():
            return f"{prefix}{top}"
    return None


def _remove_sources(path: Path) -> bool:
    """Delete a package's sources from the test copy, unless they contain tests."""
    if path.is_dir():
        if any(path.rglob("test_*.py")) or any(path.rglob("conftest.py")):
            return False
        shutil.rmtree(path)
    else:
        path.with_suffix(".py").unlink(missing_ok=True)
    return True


def _pytest_config(tree: Path, args: tuple[str, ...]) -> str:
    """What may configure pytest's assertion rewriting: its config files and arguments."""
    texts = [" ".join(args)]
    for name in ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
        try:
            texts.append((tree / name).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            pass
    return "\n".join(texts)


def _pytest_args(ctx: CheckContext, tree: Path) -> tuple[str, ...]:
    """Arguments of tox's (else nox's) pytest command, when the policy keeps the default."""
    if ctx.policy.test_command != "pytest":
        return ()
    if not (tree / "tox.ini").is_file():
        nox = read_noxfile(tree)
        return nox.pytest_args if nox else ()
    cfg = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        cfg.read(tree / "tox.ini", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return ()
    for line in cfg.get("testenv", "commands", fallback="").splitlines():
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if "pytest" in words:
            rest = words[words.index("pytest") + 1:]
            return tuple(w for w in rest if "{" not in w)
    return ()


def logged(argv: list[str], log: Path) -> list[str]:
    """`argv` with its output going to `log` (size-capped in the sandbox), not to a pipe."""
    return ["/bin/sh", "-c", 'exec "$@" >"$0" 2>&1', str(log), *argv]


def read_tail(path: Path, limit: int = _TAIL) -> str:
    """The last `limit` bytes of a log a sandboxed process wrote."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
