"""Fixture repositories for the checks: real git, built in tmp_path."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard.runtime.checks import CheckPolicy, GateReport, run_checks

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

APP = '''\
"""A tiny app under test."""


def add(a: int, b: int) -> int:
    return a + b


def sub(a: int, b: int) -> int:
    return a - b
'''

TESTS_ADD = '''\
from app import add


def test_add():
    assert add(2, 3) == 5
'''

TESTS_SUB = '''\
from app import sub


def test_sub():
    assert sub(5, 3) == 2
'''

PYPROJECT = '''\
[project]
name = "tiny-app"
version = "0.1.0"
dependencies = []
'''


@dataclass
class FixtureRepo:
    path: Path
    base: str = ""

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.path, check=True, capture_output=True,
                              text=True).stdout.strip()

    def write(self, rel: str, content: str | bytes) -> FixtureRepo:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        return self

    def remove(self, rel: str) -> FixtureRepo:
        self.git("rm", "-q", rel)
        return self

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--no-verify", "-m", message)
        return self.git("rev-parse", "HEAD")

    def check(self, *only: str, policy: CheckPolicy | None = None) -> GateReport:
        return run_checks(self.path, self.base, "HEAD", policy or CheckPolicy(),
                          only=list(only) or None)


def init_repo(path: Path) -> FixtureRepo:
    path.mkdir(parents=True, exist_ok=True)
    repo = FixtureRepo(path)
    repo.git("init", "-q", "-b", "main")
    repo.git("config", "user.email", "test@example.com")
    repo.git("config", "user.name", "Test")
    repo.git("config", "commit.gpgsign", "false")
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> FixtureRepo:
    """A clean little app with two tested functions, committed as the base."""
    r = init_repo(tmp_path / "app")
    r.write("app.py", APP).write("tests/test_add.py", TESTS_ADD).write("tests/test_sub.py", TESTS_SUB)
    r.write("pyproject.toml", PYPROJECT).write("LICENSE", "MIT License\n")
    r.write("SECURITY.md", "Report vulnerabilities to security@example.com\n")
    r.base = r.commit("base")
    return r


def finding(report: GateReport, check: str, rule_part: str):
    """The first finding of `check` whose rule contains `rule_part`, or fail listing them all."""
    result = next(c for c in report.checks if c.name == check)
    for f in result.findings:
        if rule_part in f.rule:
            return f
    raise AssertionError(f"no {rule_part!r} finding in {check}: {result}")
