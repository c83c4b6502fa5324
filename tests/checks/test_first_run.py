"""First run: no advisory database yet is said once, with both ways to get one (issue 9.3)."""

from __future__ import annotations

import functools
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard.runtime.advisories import AdvisoryDB
from shipyard.runtime.checks import CheckPolicy

from .conftest import FIXTURES

FIRST_RUN = ("shipyard advisories update", "shipyard advisories import FILE")


def test_missing_database_skips_deps_with_the_first_run_path_by_default(repo, tmp_path):
    repo.write("requirements.txt", "jinja2==2.10\n").commit()
    report = repo.check("deps", policy=CheckPolicy(advisories_db=str(tmp_path / "none.db")))
    result = report.checks[0]
    assert result.status == "skipped" and not result.blocks and report.passed
    [f] = result.findings
    assert f.rule == "deps.no-database" and not f.fails
    assert all(cmd in f.message for cmd in FIRST_RUN)


def test_policy_can_make_a_missing_database_block(repo, tmp_path):
    repo.write("requirements.txt", "jinja2==2.10\n").commit()
    policy = CheckPolicy(advisories_db=str(tmp_path / "none.db"), advisories_missing="block")
    report = repo.check("deps", policy=policy)
    result = report.checks[0]
    assert result.status == "error" and result.blocks and not report.passed
    assert all(cmd in result.findings[0].message for cmd in FIRST_RUN)


def test_g2_tooling_names_the_first_run_path_and_what_deps_does_meanwhile(tmp_path):
    from shipyard.runtime.checks import tooling_status

    result = tooling_status(CheckPolicy(advisories_db=str(tmp_path / "none.db"), sandbox="off"))
    [f] = result.findings
    assert result.status == "fail"  # G2 asks the human when a guardrail fails
    assert all(cmd in f.message for cmd in FIRST_RUN) and "deps is skipped" in f.message


def test_gates_check_says_it_once(repo, tmp_path, monkeypatch):
    from shipyard.cli.gates import app

    monkeypatch.setenv("SHIPYARD_ADVISORIES_DB", str(tmp_path / "none.db"))
    repo.write("requirements.txt", "jinja2==2.10\n").commit()
    res = CliRunner().invoke(app, ["check", "--repo", str(repo.path), "--base", repo.base,
                                   "--only", "deps"], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert res.stdout.count("shipyard advisories update") == 1


@pytest.fixture
def osv_server(tmp_path: Path) -> Iterator[str]:
    """A local HTTP server on 127.0.0.1 serving an OSV export zip (and a file that is not one)."""
    root = tmp_path / "www"
    root.mkdir()
    with zipfile.ZipFile(root / "all.zip", "w") as zf:
        for rec in sorted((FIXTURES / "osv").glob("*")):
            zf.writestr(rec.name, rec.read_text())
    (root / "broken.zip").write_text("<html>not a zip</html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_advisories_update_downloads_from_a_configured_url(osv_server, tmp_path, monkeypatch):
    from shipyard.cli.advisories import app

    db = tmp_path / "adv.db"
    monkeypatch.setenv("SHIPYARD_ADVISORIES_URL", f"{osv_server}/all.zip")
    res = CliRunner().invoke(app, ["update", "--db", str(db), "--repo", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "imported 2 PyPI advisories" in res.stdout
    assert [a.id for a in AdvisoryDB(db).lookup("jinja2", "2.10")] == ["PYSEC-2019-217"]


def test_advisories_update_url_option_and_a_bad_download_name_the_fix(osv_server, tmp_path):
    from shipyard.cli.advisories import app

    db = str(tmp_path / "adv.db")
    ok = CliRunner().invoke(app, ["update", "--db", db, "--url", f"{osv_server}/all.zip",
                                  "--repo", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    broken = CliRunner().invoke(app, ["update", "--db", db, "--url", f"{osv_server}/broken.zip",
                                      "--repo", str(tmp_path)])
    assert broken.exit_code == 1 and "not a zip" not in broken.stdout
    assert "SHIPYARD_ADVISORIES_URL" in broken.output
    missing = CliRunner().invoke(app, ["update", "--db", db, "--url", f"{osv_server}/nope.zip",
                                       "--repo", str(tmp_path)])
    assert missing.exit_code == 1 and "advisories import FILE" in missing.output
