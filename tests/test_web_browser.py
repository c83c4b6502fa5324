"""The console in a real browser: a human opens a run waiting at G1, approves it with the
keyboard alone, and the CLI sees the run move on; axe-core finds no serious or critical
WCAG 2.2 AA violation; screenshots for the README.

Needs Debian's `chromium` (/usr/bin/chromium) and Python `playwright` (no browser download:
playwright drives the system's chromium through `executable_path`). Screenshots go to the
test's tmp dir; `SHIPYARD_UPDATE_SCREENSHOTS=1` also copies them to docs/.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                "(apt-get install chromium); the browser test needs it")
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright "
                               "(the dev extra) for the browser test")

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "shipyard" / "web" / "static" / "vendor" / "axe.min.js"
DOCS = ROOT / "docs"
TOKEN = "browser-test-token-" + "y" * 16
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# Read at import: the autouse fixture clears SHIPYARD_* variables before each test runs.
UPDATE_DOCS = os.environ.get("SHIPYARD_UPDATE_SCREENSHOTS") == "1"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(make_repo, cli):
    """`shipyard serve` in its own process over a repo whose run waits at G1."""
    repo = make_repo(human=["G1", "G6"])
    _, out, _ = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    run = json.loads(out.splitlines()[-1])
    assert (run["status"], run["gate"]) == ("waiting", "G1")
    port = _free_port()
    exe = Path(sys.executable).parent / "shipyard"
    proc = subprocess.Popen([str(exe), "serve", "--repo", str(repo), "--port", str(port),
                             "--token", TOKEN], stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/static/app.css", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"shipyard serve did not start: {proc.stderr.read()}")
            time.sleep(0.2)
    yield {"base": base, "repo": repo, "run_id": run["run_id"]}
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _axe(page) -> list[dict]:
    """axe-core's serious and critical violations on the page (loaded from our own origin,
    so the page's Content-Security-Policy stays on)."""
    page.add_script_tag(url="/static/vendor/axe.min.js")
    found = page.evaluate("""async (tags) => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                        where: v.nodes.slice(0, 3).map(n => n.target)}));
    }""", AXE_TAGS)
    return [v for v in found if v["impact"] in ("serious", "critical")]


def _shot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if UPDATE_DOCS:
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / name)
    return path


def _cli_status(cli, repo: Path, run_id: str) -> dict:
    _, out, _ = cli("status", run_id, "--repo", repo, "--json")
    return json.loads(out)


def test_a_human_approves_g1_with_the_keyboard_and_the_cli_sees_the_run_move(server, cli,
                                                                           tmp_path):
    base, repo, run_id = server["base"], server["repo"], server["run_id"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS,
                                     chromium_sandbox=False)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=base)
        page.set_default_timeout(120_000)  # a loaded CI machine is slow, not broken
        page.goto(f"/?token={TOKEN}")
        assert page.locator(f"a[href='/runs/{run_id}']").is_visible()
        assert _axe(page) == []
        _shot(page, tmp_path, "console-runs.png")

        page.click(f"a[href='/runs/{run_id}']")
        page.wait_for_selector("#decide-h")
        assert "G1: Approve the architecture" in page.inner_text("main")
        assert _axe(page) == []
        _shot(page, tmp_path, "console-run.png")

        # Keyboard alone: the skip link comes first; Tab reaches the comment, then decide.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        for _ in range(80):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "comment":
                break
        assert page.evaluate("document.activeElement.id") == "comment"
        assert page.is_checked("#d-approve")  # the default, chosen by arrow keys otherwise
        page.keyboard.type("Architecture is sound.")
        while page.evaluate("document.activeElement.type") != "submit":
            page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.wait_for_url("**decided=approve")
        assert "Your decision (approve) is recorded" in page.inner_text("main")

        # The CLI's status moves on, and the open page follows it without a reload.
        deadline = time.monotonic() + 180
        status = _cli_status(cli, repo, run_id)
        while (status["status"], status["gate"]) != ("waiting", "G6"):
            assert time.monotonic() < deadline, f"run did not reach G6: {status}"
            assert status["status"] in ("running", "waiting"), status
            time.sleep(0.5)
            status = _cli_status(cli, repo, run_id)
        page.wait_for_selector("#live-status:has-text('at G6')", timeout=120_000)
        page.wait_for_selector("#decide-h:has-text('G6')", timeout=120_000)

        # Merge at G6 through the API, then the dashboard has an ended run to show.
        import urllib.request as rq

        req = rq.Request(f"{base}/api/runs/{run_id}/approve", method="POST",
                         data=json.dumps({"comment": "go", "gate": "G6"}).encode(),
                         headers={"Authorization": f"Bearer {TOKEN}",
                                  "Content-Type": "application/json"})
        assert rq.urlopen(req, timeout=30).status == 202
        deadline = time.monotonic() + 180
        while _cli_status(cli, repo, run_id)["status"] in ("running", "waiting"):
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert _cli_status(cli, repo, run_id)["status"] == "merged"
        page.goto("/dashboard")
        assert run_id in page.inner_text("main")
        assert _axe(page) == []
        _shot(page, tmp_path, "console-dashboard.png")
        browser.close()
    approvals = [r for r in json.loads(cli("log", run_id, "--repo", repo, "--json")[1])
                 if r["table"] == "approvals"]
    assert [(a["gate"], a["comment"]) for a in approvals] == [
        ("G1", "Architecture is sound."), ("G6", "go")]


def test_the_readme_screenshots_are_kept_in_docs():
    for name in ("console-runs.png", "console-run.png", "console-dashboard.png"):
        assert (DOCS / name).stat().st_size > 10_000, f"regenerate with " \
            f"SHIPYARD_UPDATE_SCREENSHOTS=1 pytest {Path(__file__).name}"
