"""Headless Chromium for tests: Debian's `chromium` driven by Python `playwright`.

No browser is downloaded: playwright drives /usr/bin/chromium through `executable_path`.
Tests that need it use `requires_chromium` (a skip naming the install when either is
missing). `SHIPYARD_UPDATE_SCREENSHOTS=1` lets a test copy its screenshots into docs/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DOCS = Path(__file__).resolve().parents[1] / "docs"
# read at import: the suite's autouse fixture clears SHIPYARD_* variables before each test
UPDATE_SCREENSHOTS = os.environ.get("SHIPYARD_UPDATE_SCREENSHOTS") == "1"

requires_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")


def launch(playwright: Any) -> Any:
    """A headless browser on the system's chromium."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def keep_screenshot(path: Path, name: str) -> None:
    """Copy a screenshot into docs/ when SHIPYARD_UPDATE_SCREENSHOTS=1."""
    if UPDATE_SCREENSHOTS:
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / name)
