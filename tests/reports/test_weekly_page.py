"""`shipyard report weekly --html`: one self-contained page that renders in Chromium offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from chromium import keep_screenshot, launch, requires_chromium
from conftest import make_calc_repo
from test_dora import Seeder

from shipyard.reports import weekly_data, weekly_html
from shipyard.runtime.ledger import Ledger

AGENTS = [("planner", "G0", "gpt-4o", 0.011), ("security", "G5", "gpt-4o-mini", 0.0009),
          ("implementer", "G5", "local", 0.0), ("test", "G5", "local", 0.0),
          ("docs", "G7", "gpt-4o-mini", 0.0004)]


# the page is made with the real clock: the runs are in the eight weeks before today
NOW = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
BASE = NOW - timedelta(days=55)


def _seed_weeks(repo: Path, seeder: Seeder) -> None:
    """Eight weeks of runs: most merge, one is reverted, one blocked at G5, one rejected."""
    ledger = seeder.ledger
    for n in range(12):
        run_id, start = f"w{n:02d}", BASE + timedelta(days=n * 4.5, hours=9)
        seeder.run(run_id, start)
        for i, (agent, gate, model, cost) in enumerate(AGENTS):
            seeder.at(start + timedelta(minutes=5 + i))
            ledger.append("llm_calls", run_id=run_id, agent=agent, task="t", gate=gate,
                          model=model, provider=model.split("-")[0], input_tokens=1800 + 90 * n,
                          output_tokens=400 + 11 * i, cost_usd=cost, latency_s=2.0 + i)
        seeder.at(start + timedelta(minutes=20))
        ledger.append("approvals", run_id=run_id, gate="G0", decision="approve", who="a@x")
        blocked = n in (3, 7)
        ledger.event(run_id, "g5_decision", gate="G5", round=0,
                     verdict="block" if blocked else "pass",
                     reasons=["check tests: 2 failures in test_slugify.py"] if blocked else [])
        if n == 7:
            seeder.fail(run_id, start + timedelta(hours=2))
            continue
        if n == 9:
            seeder.at(start + timedelta(hours=1))
            ledger.append("approvals", run_id=run_id, gate="G6", decision="reject", who="a@x")
            ledger.event(run_id, "run_ended", gate="G6", status="rejected",
                         reason="rejected at G6: not now")
            continue
        seeder.at(start + timedelta(hours=1))
        ledger.append("approvals", run_id=run_id, gate="G6", decision="approve", who="a@x")
        sha = seeder.merge(run_id, start + timedelta(hours=2 + n % 4))
        if n == 5:
            seeder.revert(sha, start + timedelta(hours=30))


@pytest.fixture
def weekly_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = make_calc_repo(tmp_path / "repo")
    (repo / ".git" / "info" / "exclude").write_text(".shipyard/\n")
    _seed_weeks(repo, Seeder(repo, monkeypatch))
    return repo


def test_weekly_data_holds_dora_trends_costs_verdicts_and_blocks(weekly_repo):
    data = weekly_data(Ledger.for_repo(weekly_repo), weekly_repo, weeks=8, now=NOW)

    assert data["dora"]["deployments"] == 10 and data["dora"]["failures"] == 1
    assert len(data["dora"]["weeks"]) >= 8
    agents = {ln["key"]: ln for ln in data["cost_by_agent"]["lines"]}
    assert agents["planner"]["cost_usd"] == pytest.approx(12 * 0.011)
    assert agents["implementer"]["cost_usd"] == 0 and agents["implementer"]["input_tokens"] > 0
    assert data["verdicts"]["G5"] == {"pass": 10, "block": 2}
    assert data["verdicts"]["G6"] == {"approve": 10, "reject": 1}
    assert data["blocked"]["reasons"][0]["kind"] == "check tests"
    assert {r["status"] for r in data["blocked"]["runs"]} == {"failed", "rejected"}


@requires_chromium
def test_weekly_page_renders_in_chromium_without_the_network(weekly_repo, cli, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright "
                                   "(the dev extra) for the browser test")
    page_file = tmp_path / "weekly.html"
    code, _, err = cli("report", "weekly", "--repo", weekly_repo, "--html", page_file,
                       "--weeks", "8")
    assert code == 0, err
    html = page_file.read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", "")  # nothing to run, nothing to fetch

    requests: list[str] = []
    shot = tmp_path / "weekly-report.png"
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1240, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        headings = page.locator("h2").all_inner_texts()
        charts = page.locator("svg").count()
        bars = page.locator("svg rect").count()
        kpi = page.locator(".kpi b").first.inner_text()
        page.screenshot(path=str(shot), full_page=True)
        browser.close()

    assert requests == [page_file.as_uri()]
    assert {"Deployments per week", "Lead time for changes", "Cost by agent", "Cost by model",
            "Gate verdicts", "Why changes were blocked"} <= set(headings)
    assert charts >= 5 and bars > 20
    assert kpi.endswith("/wk")
    assert shot.stat().st_size > 20_000
    keep_screenshot(shot, "weekly-report.png")


def test_report_weekly_needs_a_destination(weekly_repo, cli):
    code, _, err = cli("report", "weekly", "--repo", weekly_repo)
    assert code == 2 and "--html FILE" in err
    code, out, _ = cli("report", "weekly", "--repo", weekly_repo, "--json")
    assert code == 0 and set(json.loads(out)) >= {"dora", "cost_by_agent", "verdicts"}


def test_the_page_is_the_data(weekly_repo):
    data = weekly_data(Ledger.for_repo(weekly_repo), weekly_repo, weeks=8, now=NOW)
    html = weekly_html(data)
    assert f"{data['dora']['deployments_per_week']:.1f}/wk" in html
    assert "check tests: 2 failures in test_slugify.py" in html
    assert html.count("<svg") == 5
