"""Repository content executed by the tests check stays confined and cannot fake a pass.

Issue 8 items 1, 2 and 12: a committed `coverage/__main__.py`, a build backend, a
conftest that exits early, a memory hog and a fork bomb.
"""

from __future__ import annotations

import os

import pytest

from shipyard.runtime.sandbox import bwrap_path

from .conftest import finding

sandboxed = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")

ESCAPE = '''\
from pathlib import Path
Path({marker!r}).write_text("ran as the user")
'''


@sandboxed
def test_committed_coverage_main_cannot_run_outside_or_fake_a_pass(repo, tmp_path):
    marker = tmp_path / "coverage-main-ran"
    code = ESCAPE.format(marker=str(marker))
    repo.write("coverage/__init__.py", code).write("coverage/__main__.py", code)
    repo.write("tests/test_add.py", "from app import add\n\n\ndef test_add():\n"
               "    assert add(2, 3) == 6\n").commit("hostile")
    report = repo.check("tests")
    assert not marker.exists(), "repository code ran outside the sandbox"
    assert not report.passed
    assert finding(report, "tests", "tests.failure")


@sandboxed
def test_build_backend_code_runs_confined(repo, tmp_path):
    marker = tmp_path / "setup-py-ran"
    repo.write("setup.py", ESCAPE.format(marker=str(marker)) +
               "from setuptools import setup\nsetup(py_modules=['app'])\n").commit("setup.py")
    report = repo.check("tests")
    assert not marker.exists(), "the build ran outside the sandbox"
    assert report.passed, report.checks[0]


def test_conftest_calling_os_exit_0_fails(repo):
    repo.write("tests/conftest.py", "import os\nos._exit(0)\n").commit("exit early")
    report = repo.check("tests")
    assert not report.passed
    assert "no JUnit report" in finding(report, "tests", "tests.no-report").message
    assert finding(report, "tests", "tests.no-coverage")


@sandboxed
def test_memory_hog_is_bounded(repo):
    repo.write("tests/test_hog.py", "def test_hog():\n    blob = bytearray(16 << 30)\n"
               "    assert blob\n").commit("hog")
    report = repo.check("tests")
    f = finding(report, "tests", "tests.failure")
    assert "MemoryError" in f.message or "test_hog" in f.message


@sandboxed
@pytest.mark.skipif(os.geteuid() == 0, reason="root is exempt from RLIMIT_NPROC")
def test_process_count_is_bounded(repo):
    repo.write("tests/test_spawn.py", '''\
import os, time


def test_spawn():
    n = 0
    try:
        for n in range(2000):
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
    except OSError:
        pass
    assert n >= 1999, f"stopped after {n} processes"
''').commit("many processes")
    report = repo.check("tests")
    assert "stopped after" in finding(report, "tests", "tests.failure").message
