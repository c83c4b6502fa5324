"""Bad input gets a clear error naming the problem and the fix, exit 2, and loses nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import git, make_calc_repo


def test_non_git_path_is_a_usage_error(cli, tmp_path):
    code, _, err = cli("run-feature", "Add x", "--repo", tmp_path)
    assert code == 2
    assert "not a git repository" in err and "git init" in err


def test_missing_path_is_a_usage_error(cli, tmp_path):
    code, _, err = cli("run-feature", "Add x", "--repo", tmp_path / "nope")
    assert code == 2 and "does not exist" in err


def test_empty_feature_text_is_a_usage_error(make_repo, cli):
    repo = make_repo()
    code, _, err = cli("run-feature", "   ", "--repo", repo)
    assert code == 2 and "empty" in err
    assert not (repo / ".shipyard" / "ledger.db").exists()


def test_one_megabyte_feature_text_is_a_usage_error(make_repo, cli):
    repo = make_repo()
    code, _, err = cli("run-feature", "x" * 1_000_000, "--repo", repo)
    assert code == 2 and "limit" in err and "1,000,000" in err


def test_broken_shipyard_toml_is_a_usage_error_naming_the_file(tmp_path, cli):
    repo = make_calc_repo(tmp_path / "r", toml="[models\ndefault = 'x'\n")
    code, _, err = cli("run-feature", "Add x", "--repo", repo)
    assert code == 2 and "shipyard.toml" in err and "not valid TOML" in err


def test_unknown_config_key_is_a_usage_error(tmp_path, cli):
    repo = make_calc_repo(tmp_path / "r", toml="[gates]\nhumans = ['G0']\n")
    code, _, err = cli("run-feature", "Add x", "--repo", repo)
    assert code == 2 and "gates.humans" in err


def test_dirty_worktree_is_refused(make_repo, cli):
    repo = make_repo()
    (repo / "calc" / "core.py").write_text("# edited\n")
    code, _, err = cli("run-feature", "Add x", "--repo", repo)
    assert code == 2 and "uncommitted changes" in err and "calc/core.py" in err


def test_detached_head_is_refused(make_repo, cli):
    repo = make_repo()
    git(repo, "checkout", "-q", "--detach")
    code, _, err = cli("run-feature", "Add x", "--repo", repo)
    assert code == 2 and "detached HEAD" in err


def test_unknown_run_id_is_a_usage_error(make_repo, cli):
    repo = make_repo()
    for command in ("status", "approve", "resume", "log"):
        code, _, err = cli(command, "no-such-run", "--repo", repo)
        assert code == 2, command
        assert "no run 'no-such-run'" in err


def test_missing_scripted_file_is_a_usage_error(tmp_path, cli):
    repo = make_calc_repo(tmp_path / "r", toml='[models]\ndefault = "scripted:/nope.yaml"\n')
    code, _, err = cli("run-feature", "Add x", "--repo", repo)
    assert code == 2 and "/nope.yaml" in err


def test_remote_model_without_key_is_a_usage_error(tmp_path, cli):
    repo = make_calc_repo(tmp_path / "r", toml='[models]\ndefault = "gpt-4o-mini"\n')
    code, _, err = cli("run-feature", "Add x", "--repo", repo)
    assert code == 2 and "OPENAI_API_KEY" in err


def test_approving_a_finished_run_is_a_usage_error(make_repo, cli):
    import json

    repo = make_repo()
    _, out, _ = cli("run-feature", "Add x", "--repo", repo, "--json")
    run_id = json.loads(out.splitlines()[-1])["run_id"]
    cli("reject", run_id, "--repo", repo, "--comment", "no")
    code, _, err = cli("approve", run_id, "--repo", repo)
    assert code == 2 and "not waiting" in err


def test_cli_help_lists_every_command():
    out = subprocess.run(["shipyard", "--help"], capture_output=True, text=True, check=True,
                         env={"PATH": str(Path(__import__("sys").executable).parent),
                              "COLUMNS": "200"}).stdout
    for command in ("run-feature", "approve", "revise", "reject", "resume", "status", "runs",
                    "log", "verify", "init"):
        assert command in out


def test_invalid_utf8_feature_text_is_a_usage_error(make_repo, cli):
    repo = make_repo()
    code, _, err = cli("run-feature", "Add \udcff multiply", "--repo", repo)
    assert code == 2 and "UTF-8" in err


def test_terminal_escape_codes_in_feature_text_are_refused(make_repo, cli):
    repo = make_repo()
    code, _, err = cli("run-feature", "Add \x1b[31mred\x1b[0m", "--repo", repo)
    assert code == 2 and "control characters" in err and "U+001B" in err


def test_non_json_list_in_an_env_var_is_a_usage_error_naming_the_format(make_repo, cli,
                                                                         monkeypatch):
    repo = make_repo()
    monkeypatch.setenv("SHIPYARD_GATES__HUMAN", "G0")
    code, _, err = cli("run-feature", "Add x", "--repo", repo)
    assert code == 2 and "JSON" in err


def test_init_on_a_missing_folder_is_a_usage_error(cli, tmp_path):
    code, _, err = cli("init", "--repo", tmp_path / "nope")
    assert code == 2 and "not a directory" in err


def test_json_flag_gets_one_json_object_even_for_errors(make_repo, cli):
    import json

    repo = make_repo()
    code, out, _ = cli("status", "nope", "--repo", repo, "--json")
    payload = json.loads(out)
    assert code == 2 and payload["exit_code"] == 2 and "no run 'nope'" in payload["error"]


def test_approver_defaults_to_the_humans_git_email_not_the_bot(make_repo, cli):
    import json
    import sqlite3

    repo = make_repo()
    _, out, _ = cli("run-feature", "Add x", "--repo", repo, "--json")
    cli("approve", json.loads(out.splitlines()[-1])["run_id"], "--repo", repo)
    who = sqlite3.connect(repo / ".shipyard" / "ledger.db").execute(
        "select who from approvals").fetchone()[0]
    assert who == "tester@example.com"
