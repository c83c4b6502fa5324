"""The tests run on the target's own Python: the interpreter behind its `.venv`.

Unit tests read fake venvs (pyvenv.cfg and a link, as venv and uv write them); the
end-to-end test needs a second, newer interpreter on the machine and is skipped without.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.runtime.checks import CheckPolicy, run_checks
from shipyard.runtime.checks._declared import read_declarations
from shipyard.runtime.checks._interpreter import choose, line_collector, ours
from shipyard.runtime.checks._testenv import find_uv

from .conftest import init_repo

BASE = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
OURS = ".".join(map(str, sys.version_info[:3]))


def _fake_venv(root: Path, cfg: str, link: str | None) -> Path:
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(cfg)
    if link is not None:
        (venv / "bin" / "python").symlink_to(link)
    return venv


def test_the_interpreter_behind_the_repos_venv_is_chosen(tmp_path):
    repo = init_repo(tmp_path / "r")
    # uv writes version_info; the link points at the base interpreter
    _fake_venv(repo.path, f"home = {Path(BASE).parent}\nversion_info = {OURS}\n", BASE)
    chosen = choose(repo.path)
    assert chosen.path == BASE
    assert chosen.version == OURS
    assert ".venv" in chosen.origin


def test_a_venv_of_copies_falls_back_to_its_home(tmp_path):
    repo = init_repo(tmp_path / "r")
    venv = _fake_venv(repo.path, f"home = {Path(BASE).parent}\nversion = {OURS}\n", None)
    (venv / "bin" / "python").write_bytes(b"")  # a copy inside the venv, not a base interpreter
    chosen = choose(repo.path)
    assert Path(chosen.path).parent == Path(BASE).parent
    assert chosen.version == OURS


def test_without_a_usable_venv_it_is_shipyards_interpreter(tmp_path):
    repo = init_repo(tmp_path / "r")
    assert choose(repo.path) == ours()  # no venv at all
    _fake_venv(repo.path, "home = /nonexistent/bin\nversion_info = 3.99.0\n", "/nonexistent/python")
    assert choose(repo.path) == ours()  # its interpreter is gone
    assert choose(None) == ours()


def test_a_venv_under_review_never_chooses_what_runs(tmp_path):
    """A committed .venv, or one linking into the repository, is content, not the
    developer's setup: its "interpreter" would run outside the sandbox."""
    repo = init_repo(tmp_path / "r")
    marker = tmp_path / "ran"
    evil = repo.path / "python3"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\nexec {BASE} \"$@\"\n")
    evil.chmod(0o755)
    _fake_venv(repo.path, f"home = {repo.path}\nversion_info = {OURS}\n", str(evil))
    assert choose(repo.path) == ours()  # untracked, but its interpreter is in the repository
    (repo.path / ".venv" / "bin" / "python").unlink()
    (repo.path / ".venv" / "bin" / "python").symlink_to(BASE)
    repo.commit("a venv in the tree")
    assert choose(repo.path) == ours()  # tracked: it came with the change
    assert not marker.exists()


def test_lines_are_recorded_with_sys_monitoring_from_312():
    assert line_collector("3.11.7") == "coverage.py"
    assert line_collector("3.12.1") == "sys.monitoring"
    assert line_collector("3.13.0") == "sys.monitoring"
    assert line_collector("") == "coverage.py"


def _newer_python() -> tuple[str, str] | None:
    """(path, version) of a working interpreter, 3.12 or newer, other than ours."""
    seen = {BASE}
    for cand in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3.1?"))
                       + glob.glob("/usr/bin/python3.1[2-9]")
                       + glob.glob("/usr/local/bin/python3.1[2-9]")):
        real = os.path.realpath(cand)
        if real in seen:
            continue
        seen.add(real)
        res = subprocess.run([real, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=False)
        if res.returncode == 0 and res.stdout.strip() != OURS:
            return real, res.stdout.strip()
    return None


def test_a_project_developed_on_a_newer_python_is_tested_on_it(tmp_path):
    newer = _newer_python()
    if newer is None or find_uv() is None:
        pytest.skip("needs uv and a Python 3.12+ interpreter other than shipyard's")
    path, version = newer
    repo = init_repo(tmp_path / "modern")
    repo.write("pyproject.toml", '[project]\nname = "modern"\nversion = "0.1.0"\n'
                                 'requires-python = ">=3.12"\n')
    # PEP 695 syntax: the module does not even parse before 3.12
    repo.write("modern/__init__.py", "type Pair = tuple[int, int]\n\n\n"
                                     "def swap(p: Pair) -> Pair:\n    return p[1], p[0]\n")
    repo.write("tests/test_modern.py", "from modern import swap\n\n\n"
                                       "def test_swap():\n    assert swap((1, 2)) == (2, 1)\n")
    repo.write(".gitignore", ".venv/\n")
    repo.base = repo.commit("base")
    repo.write("modern/__init__.py", (repo.path / "modern/__init__.py").read_text()
               + "\n\ndef first(p: Pair) -> int:\n    return p[0]\n")
    repo.write("tests/test_first.py", "from modern import first\n\n\n"
                                      "def test_first():\n    assert first((1, 2)) == 1\n")
    repo.commit("first")
    subprocess.run([find_uv(), "venv", "-q", "--python", path, str(repo.path / ".venv")],
                   check=True)
    report = run_checks(repo.path, repo.base, "HEAD", CheckPolicy(), only=["tests"])
    tests = report.checks[0]
    assert tests.status == "pass", tests
    assert f"Python {version}" in tests.summary
    assert "lines recorded by sys.monitoring" in tests.summary
    # 3.12 syntax that shipyard's own Python cannot parse is still measured (by the tests'
    # Python): were it not, coverage would read "n/a"
    assert "coverage 100.0%" in tests.summary, tests.summary


def test_a_python_the_project_excludes_is_an_error_naming_the_fix(tmp_path):
    repo = init_repo(tmp_path / "future")
    repo.write("pyproject.toml", '[project]\nname = "future"\nversion = "0.1.0"\n'
                                 'requires-python = ">=3.99"\n')
    repo.write("future.py", "def f():\n    return 1\n")
    repo.write("tests/test_future.py", "from future import f\n\n\ndef test_f():\n"
                                       "    assert f() == 1\n")
    repo.base = repo.commit("base")
    repo.write("future.py", "def f():\n    return 1\n\n\ndef g():\n    return 2\n").commit()
    report = run_checks(repo.path, repo.base, "HEAD", CheckPolicy(), only=["tests"])
    tests = report.checks[0]
    assert tests.status == "error"  # the check could not test it: not a verdict on the change
    assert not report.passed
    message = tests.findings[0].message
    assert tests.findings[0].rule == "tests.python"
    assert ">=3.99" in message and OURS in message and "uv venv --python" in message


def test_requires_python_is_read_from_pyproject_or_setup_cfg(tmp_path):
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = old\n\n[options]\n"
                                        "python_requires = >=3.6, <3.10\n")
    decl = read_declarations(tmp_path)
    assert decl.requires_python == ">=3.6, <3.10"
    assert decl.python_mismatch("3.9.18") is None
    assert "requires Python >=3.6, <3.10" in decl.python_mismatch("3.11.7")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "new"\nversion = "1"\n'
                                             'requires-python = "not a specifier"\n')
    assert read_declarations(tmp_path).python_mismatch("3.11.7") is None  # unreadable: no say
