"""The local OSV database: import, version matching, and the full pypa snapshot."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard.runtime.advisories import AdvisoryDB, affects, cvss3_base_score, import_path

from .conftest import FIXTURES

SNAPSHOT = Path("/work/shared/advisory-database/vulns")


def test_yaml_version_2_10_stays_a_string_and_matches_exactly(advisory_db):
    db = AdvisoryDB(advisory_db)
    assert [a.id for a in db.lookup("Jinja2", "2.10")] == ["PYSEC-2019-217"]
    assert db.lookup("jinja2", "2.1") != [] and db.lookup("jinja2", "2.10.1") == []


def test_last_affected_range_and_normalized_names(advisory_db):
    db = AdvisoryDB(advisory_db)
    assert [a.id for a in db.lookup("tiny.lib", "1.4")] == ["TEST-2099-0001"]
    assert db.lookup("tiny-lib", "1.4.1") == [] and db.lookup("tiny-lib", "0.9") == []
    assert db.lookup("tiny-lib", "1.2")[0].severity == "critical"


def test_osv_range_semantics():
    rng = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.5"},
                                            {"introduced": "2.0"}, {"fixed": "2.3"}]}]
    assert [affects(v, rng, []) for v in ("0.1", "1.5", "1.9", "2.0", "2.2.9", "2.3")] == \
        [True, False, False, True, True, False]


def test_cvss3_base_score_matches_the_specification_examples():
    assert cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == 9.8
    assert cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N") == 6.1
    assert cvss3_base_score("not a vector") is None


def test_import_from_a_zip_of_json_records(tmp_path):
    z = tmp_path / "all.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("TEST-2099-0001.json", (FIXTURES / "osv" / "TEST-2099-0001.json").read_text())
        zf.writestr("junk.json", json.dumps({"not": "osv"}))
    db = AdvisoryDB(tmp_path / "a.db")
    assert import_path(db, z) == 1 and db.count() == 1


def test_reimport_replaces_records_instead_of_duplicating(tmp_path):
    db = AdvisoryDB(tmp_path / "a.db")
    import_path(db, FIXTURES / "osv")
    import_path(db, FIXTURES / "osv")
    assert db.count() == 2 and len(db.lookup("jinja2", "2.10")) == 1


def test_advisories_import_command(tmp_path):
    from shipyard.cli.advisories import app

    res = CliRunner().invoke(app, ["import", str(FIXTURES / "osv"), "--db", str(tmp_path / "x.db"),
                                   "--repo", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "imported 2" in res.stdout
    bad = CliRunner().invoke(app, ["import", str(tmp_path / "nothing"), "--db",
                                   str(tmp_path / "x.db"), "--repo", str(tmp_path)])
    assert bad.exit_code == 2


@pytest.mark.skipif(not SNAPSHOT.is_dir(), reason="the pypa advisory-database snapshot is absent")
def test_whole_pypa_snapshot_imports_and_matches(tmp_path):
    db = AdvisoryDB(tmp_path / "full.db")
    n = import_path(db, SNAPSHOT)
    assert n > 2000 and db.count() == n
    assert "PYSEC-2019-217" in {a.id for a in db.lookup("jinja2", "2.10")}
    assert db.lookup("jinja2", "3.1.4") == [] or all(a.id != "PYSEC-2019-217"
                                                     for a in db.lookup("jinja2", "3.1.4"))
