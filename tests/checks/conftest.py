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


@pytest.fixture
def advisory_db(tmp_path: Path) -> Path:
    """A local OSV database holding the attributed records in tests/fixtures/osv."""
    from shipyard.runtime.advisories import AdvisoryDB, import_path

    db = tmp_path / "advisories.db"
    import_path(AdvisoryDB(db), FIXTURES / "osv")
    return db


@pytest.fixture
def fake_venv():
    """Make `<repo>/.venv` a real (pip-less) venv with hand-written dist-info metadata.

    `packages` maps name -> (version, SPDX license expression, requirements).
    .venv is git-ignored so the fixture repo's tree stays as the test wrote it.
    """
    import sys

    def make(repo_path: Path, packages: dict[str, tuple[str, str, list[str]]]) -> Path:
        venv = repo_path / ".venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = next(venv.glob("lib/python*/site-packages"))
        for name, (version, lic, requires) in packages.items():
            info = site / f"{name}-{version}.dist-info"
            info.mkdir()
            reqs = "".join(f"Requires-Dist: {r}\n" for r in requires)
            (info / "METADATA").write_text(f"Metadata-Version: 2.4\nName: {name}\n"
                                           f"Version: {version}\nLicense-Expression: {lic}\n{reqs}")
        (repo_path / ".gitignore").write_text(".venv/\n")
        return venv

    return make
