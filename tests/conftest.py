"""Shared fixtures: real git repositories, scripted models, and a guard against real providers.

Tests never reach a real model provider (STYLE 11): remote backends are
blocked unless they point at this machine; scripted replies go through the
same gateway, ledger and graph a real model does.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

CALC_CORE = '''"""Tiny arithmetic helpers."""


def add(a: int, b: int) -> int:
    """Return a + b."""
    return a + b
'''

CALC_TESTS = '''from calc.core import add


def test_add():
    assert add(2, 3) == 5
'''

CALC_CORE_WITH_MULTIPLY = CALC_CORE + '''

def multiply(a: int, b: int) -> int:
    """Return a * b."""
    return a * b
'''

# The Implementer's reply: a code block for the function it adds (agents/edits.py applies it).
MULTIPLY_EDIT = '''FILE: calc/core.py
```python
def multiply(a: int, b: int) -> int:
    """Return a * b."""
    return a * b
```
'''

MULTIPLY_TEST = '''from calc.core import multiply


def test_multiply():
    assert multiply(3, 4) == 12
'''

# The controls G2 insists on (switching one off asks a human at G2), plus lint.
CORE_CHECKS = ["tests", "lint", "sast", "secrets"]
# Without bubblewrap G2 (rightly) asks a human about the missing sandbox; the tests that
# are about the sandbox skip there, and the others must not all stop at G2 for it.
SANDBOX = "auto" if shutil.which("bwrap") else "off"

APPROVE = {"verdict": "approve", "summary": "Looks correct and safe.", "findings": []}

DEFAULT_REPLIES: dict[str, list[Any]] = {
    "planner.onepager": [{
        "title": "Add multiply helper", "problem": "Users need to multiply two integers.",
        "users": "library users", "acceptance_criteria": ["multiply(a, b) returns a * b"],
        "risks": [{"risk": "overflow is not a concern in Python", "likelihood": "low",
                   "impact": "low", "mitigation": "none needed"}],
        "data_map": [], "out_of_scope": ["floats"]}],
    "governance.scope": [{"ai_in_product": False, "personal_data": False,
                          "dpia_required": False, "eu_ai_act_risk": "none", "notes": "none"}],
    "planner.rfc": [{"title": "Add multiply to calc.core", "context": "calc has add only.",
                     "decision": "Add multiply(a, b) next to add in calc/core.py.",
                     "files": ["calc/core.py"],
                     "nfrs": [{"category": "performance", "requirement": "O(1)"}],
                     "alternatives": ["operator.mul"], "consequences": "One more function."}],
    "security.threats": [{"threats": [{"stride": "tampering", "threat": "none realistic",
                                       "mitigation": "pure function"}], "overall_risk": "low"}],
    "finops.forecast": [{"runtime_cost_impact": "none", "notes": "pure function"}],
    "test.plan": [{"strategy": "unit test the new function",
                   "cases": [{"call": "multiply(3, 4)", "expected": "12",
                              "criterion": "multiply(a, b) returns a * b"}]}],
    "planner.delivery": [{"tasks": [{"title": "Add multiply", "files": ["calc/core.py"]}],
                          "rollout": "release", "rollback": "revert the merge"}],
    "implementer.implement": [{"raw": MULTIPLY_EDIT}],
    "security.review": [APPROVE], "test.review": [APPROVE], "sre.review": [APPROVE],
    "governance.review": [APPROVE], "finops.review": [APPROVE], "docs.review": [APPROVE],
    "docs.release_notes": [{"title": "multiply helper", "summary": "Adds calc.core.multiply.",
                            "changes": ["Add multiply(a, b)"], "upgrade_notes": ""}],
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test: its own state dir, no provider keys, fast retries, no real providers."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("SHIPYARD_HOME", str(state))
    monkeypatch.setenv("SHIPYARD_RETRY_BACKOFF_S", "0.001")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(state / "gitconfig"))
    (state / "gitconfig").write_text("[user]\n\tname = Test User\n\temail = tester@example.com\n"
                                     "[init]\n\tdefaultBranch = main\n")
    for key in list(os.environ):
        if key.endswith(("_API_KEY", "_TOKEN")) or key in ("OPENAI_BASE_URL", "SHIPYARD_MODEL"):
            monkeypatch.delenv(key, raising=False)
        if key.startswith("SHIPYARD_") and key not in ("SHIPYARD_HOME", "SHIPYARD_RETRY_BACKOFF_S",
                                                      "SHIPYARD_CACHE_DIR",
                                                      "SHIPYARD_ADVISORIES_DB"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SHIPYARD_HOME", str(state))
    monkeypatch.setenv("SHIPYARD_RETRY_BACKOFF_S", "0.001")
    # A test's model server dies with its process (tests/local tests keeping warm say so).
    monkeypatch.setenv("SHIPYARD_LOCAL_KEEP_WARM_S", "0")

    from shipyard.runtime import models

    def _blocked(self: Any, req: Any) -> Any:
        raise AssertionError("a test tried to call a real model provider")

    monkeypatch.setattr(models.LiteLLMBackend, "request", _blocked)
    original = models.OpenAICompatBackend.request

    def _loopback_only(self: Any, req: Any) -> Any:
        if not (self.base_url or "").startswith(("http://127.0.0.1", "http://localhost")):
            raise AssertionError("a test tried to call a real model provider")
        return original(self, req)

    monkeypatch.setattr(models.OpenAICompatBackend, "request", _loopback_only)


def make_calc_repo(root: Path, *, toml: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    (root / "calc").mkdir()
    (root / "calc" / "__init__.py").write_text('"""calc."""\n')
    (root / "calc" / "core.py").write_text(CALC_CORE)
    (root / "tests").mkdir()
    (root / "tests" / "test_core.py").write_text(CALC_TESTS)
    (root / "pyproject.toml").write_text('[project]\nname = "calc"\nversion = "0.1.0"\n'
                                         'license = {text = "MIT"}\ndependencies = []\n')
    (root / "LICENSE").write_text("MIT License\n")
    (root / "SECURITY.md").write_text("Report issues to security@example.com\n")
    (root / "README.md").write_text("# calc\n")
    if toml is not None:
        (root / "shipyard.toml").write_text(toml)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def replies() -> dict[str, list[Any]]:
    """A mutable copy of the default scripted replies; tests override entries."""
    return copy.deepcopy(DEFAULT_REPLIES)


@pytest.fixture
def make_repo(tmp_path: Path, replies: dict[str, list[Any]]) -> Callable[..., Path]:
    """Build a calc repository whose shipyard.toml points at a scripted model of `replies`."""

    def build(*, human: list[str] | None = None, checks: list[str] | None = None,
              max_fix_rounds: int = 2, budget: float = 5.0, extra: str = "",
              price_as: str | None = None, name: str = "repo") -> Path:
        script = tmp_path / f"{name}-script.yaml"
        doc: dict[str, Any] = {"model": "scripted-test", "replies": replies}
        if price_as:
            doc["price_as"] = price_as
        script.write_text(yaml.safe_dump(doc, sort_keys=False))
        checks = checks if checks is not None else CORE_CHECKS
        toml = (f'[models]\ndefault = "scripted:{script}"\n\n'
                f'[gates]\nhuman = {human if human is not None else ["G0", "G1", "G6"]}\n'
                f'max_fix_rounds = {max_fix_rounds}\n\n[budget]\nusd = {budget}\n\n'
                f'[policy]\nchecks = {checks}\nblocking = {checks}\n'
                f'{extra if "sandbox" in extra else extra + f"sandbox = {SANDBOX!r}" + chr(10)}')
        return make_calc_repo(tmp_path / name, toml=toml.replace("'", '"'))

    return build


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run the real CLI in-process: returns (exit code, stdout, stderr)."""
    from shipyard.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run
