"""DORA figures on a ledger and a git history seeded with known runs, a revert and a mark."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import git, make_calc_repo

from shipyard.reports import dora_report
from shipyard.runtime import ledger as ledger_module
from shipyard.runtime.ledger import Ledger

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday


def day(d: float, hour: float = 0) -> datetime:
    return T0 + timedelta(days=d, hours=hour)


class Seeder:
    """Writes ledger rows and git commits at chosen times."""

    def __init__(self, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.repo, self.monkeypatch = repo, monkeypatch
        self.ledger = Ledger.for_repo(repo)

    def at(self, when: datetime) -> Seeder:
        self.monkeypatch.setattr(ledger_module, "_now", lambda: when.isoformat())
        return self

    def _git(self, when: datetime, *args: str) -> str:
        env = {**os.environ, "GIT_AUTHOR_DATE": when.isoformat(),
               "GIT_COMMITTER_DATE": when.isoformat()}
        subprocess.run(["git", "-C", str(self.repo), *args], check=True, env=env,
                       capture_output=True)
        return git(self.repo, "rev-parse", "HEAD").strip()

    def run(self, run_id: str, kickoff: datetime) -> None:
        self.at(kickoff).ledger.append("runs", run_id=run_id, feature=f"feature {run_id}",
                                       base_branch="main")

    def merge(self, run_id: str, when: datetime) -> str:
        """The merge G7 makes: a branch commit merged with the Shipyard-Run trailer."""
        git(self.repo, "checkout", "-q", "-b", f"shipyard/{run_id}")
        (self.repo / f"{run_id}.txt").write_text(run_id)
        git(self.repo, "add", "-A")
        self._git(when - timedelta(minutes=5), "commit", "-q", "-m", f"work {run_id}")
        git(self.repo, "checkout", "-q", "main")
        sha = self._git(when, "merge", "--no-ff", "-q", f"shipyard/{run_id}", "-m",
                        f"Merge shipyard/{run_id}\n\nShipyard-Run: {run_id}\n")
        self.at(when).ledger.event(run_id, "run_ended", gate="G8", status="merged", reason="")
        return sha

    def revert(self, sha: str, when: datetime) -> None:
        self._git(when, "revert", "--no-edit", "-m", "1", sha)

    def fail(self, run_id: str, when: datetime) -> None:
        self.at(when).ledger.event(run_id, "run_ended", gate="G5", status="failed",
                                   reason="G5 blocked: tests failed")


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> tuple[Path, Seeder]:
    repo = make_calc_repo(tmp_path / "repo")
    (repo / ".git" / "info" / "exclude").write_text(".shipyard/\n")  # as shipyard keeps it
    s = Seeder(repo, monkeypatch)
    # r1: 2 h lead time, reverted a day after its merge
    s.run("r1", day(0, 10))
    r1 = s.merge("r1", day(0, 12))
    s.revert(r1, day(1, 12))
    # r2: 1 h lead time, marked failed the next morning; r3's merge restores it
    s.run("r2", day(2, 9))
    s.merge("r2", day(2, 10))
    s.run("r3", day(3, 10))
    s.at(day(3, 8))
    code, _, err = cli("mark-failed", "r2", "--repo", repo, "--reason", "500s on /slugify",
                       "--as", "oncall@example.com")
    assert code == 0, err
    s.merge("r3", day(4, 10))  # 24 h lead time
    # r4 never merges
    s.run("r4", day(5, 9))
    s.fail("r4", day(5, 11))
    return repo, s


def test_the_four_keys_come_out_of_known_runs_reverts_and_marks(seeded):
    repo, _ = seeded
    report = dora_report(Ledger.for_repo(repo), repo, since=day(0), now=day(7))

    assert report.deployments == 3 and report.deployments_per_week == pytest.approx(3.0)
    assert report.lead_time_median_s == pytest.approx(2 * 3600)
    assert report.failures == 2 and report.change_failure_rate == pytest.approx(2 / 3)
    changes = {c.run_id: c for c in report.changes}
    assert (changes["r1"].failure, changes["r1"].restore_s) == ("reverted", 24 * 3600)
    # marked failed; restored by the next merge on main (r3, two days after r2's merge)
    assert (changes["r2"].failure, changes["r2"].reason) == ("marked", "500s on /slugify")
    assert changes["r2"].restore_s == pytest.approx(48 * 3600)
    assert not changes["r3"].failed
    assert report.time_to_restore_median_s == pytest.approx(36 * 3600)
    assert report.open_failures == 0 and report.runs_failed_before_merge == 1
    assert [(w.week, w.deployments, w.failures) for w in report.weeks] == [
        ("2026-W45", 3, 2), ("2026-W46", 0, 0)]


def test_since_narrows_the_window_and_an_unrestored_failure_is_open(seeded):
    repo, _ = seeded
    report = dora_report(Ledger.for_repo(repo), repo, since=day(2), now=day(3, 12))

    assert [c.run_id for c in report.changes] == ["r2"]  # r1 merged before, r3 after
    assert report.failures == 1 and report.open_failures == 1  # r3 has not merged yet
    assert report.time_to_restore_median_s is None


def test_report_dora_json_and_mark_failed_refuses_runs_that_never_merged(seeded, cli):
    repo, _ = seeded
    code, out, _ = cli("report", "dora", "--repo", repo, "--since", "2026-11-02", "--json")
    assert code == 0 and json.loads(out)["deployments"] == 3

    code, _, err = cli("mark-failed", "r4", "--repo", repo, "--reason", "x")
    assert code == 2 and "has not merged (status: failed)" in err
    code, _, err = cli("mark-failed", "r2", "--repo", repo, "--reason", "again")
    assert code == 2 and "already marked failed" in err
    code, _, err = cli("mark-failed", "r3", "--repo", repo)
    assert code == 2 and "--reason" in err
