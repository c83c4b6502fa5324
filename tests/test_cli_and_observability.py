"""CLI conveniences and what a run leaves behind: traces, ledger views, config."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import git, make_calc_repo

SHIPYARD = str(Path(sys.executable).parent / "shipyard")


def _start(cli, repo) -> dict:
    _, out, _ = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    return json.loads(out.splitlines()[-1])


def test_init_writes_a_default_config_that_loads_and_refuses_to_overwrite(tmp_path, cli):
    from shipyard.config import load_settings

    repo = make_calc_repo(tmp_path / "r")
    assert cli("init", "--repo", repo)[0] == 0
    text = (repo / "shipyard.toml").read_text()
    tomllib.loads(text)
    settings = load_settings(repo)
    assert settings.gates.human == ["G0", "G1", "G6"] and settings.models.default == "local"
    code, _, err = cli("init", "--repo", repo)
    assert code == 2 and "--force" in err


def test_g6_go_no_go_stays_human_even_when_config_lists_no_human_gates(make_repo, cli):
    repo = make_repo(human=[])
    r = _start(cli, repo)
    assert (r["status"], r["gate"]) == ("waiting", "G6")


def test_revise_at_g6_sends_the_comment_to_the_implementer(make_repo, cli):
    repo = make_repo(human=["G6"])
    run_id = _start(cli, repo)["run_id"]
    _, out, _ = cli("revise", run_id, "--repo", repo, "--comment", "rename it to product",
                    "--json")
    assert json.loads(out.splitlines()[-1])["gate"] == "G6"
    import sqlite3

    msgs = [r[0] for r in sqlite3.connect(repo / ".shipyard" / "ledger.db").execute(
        "select messages from llm_calls where agent='implementer' order by seq")]
    # each round: a green sample and a second one to agree with it
    assert len(msgs) == 4 and "rename it to product" in msgs[2]


def test_status_and_runs_report_the_waiting_gate_as_json(make_repo, cli):
    repo = make_repo()
    run_id = _start(cli, repo)["run_id"]
    code, out, _ = cli("status", run_id, "--repo", repo, "--json")
    status = json.loads(out)
    assert code == 3 and status["status"] == "waiting" and status["gate"] == "G0"
    assert "Acceptance criteria" in status["waiting_for"]["narrative"]
    code, out, _ = cli("runs", "--repo", repo, "--json")
    assert [r["run_id"] for r in json.loads(out)] == [run_id]


def test_log_json_holds_prompts_params_and_approvals_in_chain_order(make_repo, cli):
    repo = make_repo()
    run_id = _start(cli, repo)["run_id"]
    cli("approve", run_id, "--repo", repo, "--comment", "fine", "--as", "carol@example.com")
    code, out, _ = cli("log", run_id, "--repo", repo, "--json")
    rows = json.loads(out)
    assert code == 0
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    call = next(r for r in rows if r["table"] == "llm_calls")
    assert json.loads(call["params"])["temperature"] == 0.2
    assert "Feature request:" in call["messages"] and call["prompt_id"] == "planner"
    approval = next(r for r in rows if r["table"] == "approvals")
    assert (approval["who"], approval["comment"]) == ("carol@example.com", "fine")
    code, out, _ = cli("log", run_id, "--repo", repo)
    assert "APPROVE by carol@example.com" in out


def test_secrets_in_feature_text_are_redacted_in_the_ledger(make_repo, cli):
    repo = make_repo()
    key = "AKIA" + "ABCDEFGHIJKLMNOP"
    _, out, _ = cli("run-feature", f"Use key {key} for uploads", "--repo", repo, "--json")
    raw = b"".join(p.read_bytes() for p in (repo / ".shipyard").glob("*.db*"))
    assert key.encode() not in raw  # not in the ledger, its WAL, or the checkpoints
    assert b"[REDACTED:aws-access-key]" in raw
    _code, out, _ = cli("log", "--repo", repo, json.loads(out.splitlines()[-1])["run_id"],
                       "--json")
    prompts = [r["messages"] for r in json.loads(out) if r["table"] == "llm_calls"]
    assert prompts and all(key not in p for p in prompts)


def test_a_run_writes_genai_spans_to_the_trace_file(make_repo):
    repo = make_repo()
    # a request with a data concern gets the full plan: Planner and Governance before G0
    subprocess.run([SHIPYARD, "run-feature", ("Add multiply and store each result in the "
                                              "database"), "--repo", str(repo), "--json", "--no-input"],
                   capture_output=True, text=True, timeout=120, check=False)
    spans = [json.loads(line) for line in
             (repo / ".shipyard" / "traces.jsonl").read_text().splitlines()]
    chat = [s for s in spans if s["name"].startswith("chat ")]
    assert {s["attributes"]["shipyard.agent"] for s in chat} >= {"planner", "governance"}
    attrs = chat[0]["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "scripted-test"
    assert attrs["gen_ai.usage.input_tokens"] > 0
    run_span = next(s for s in spans if s["name"] == "shipyard.node run")
    assert all(s["trace_id"] == run_span["trace_id"] for s in chat)
    # the ledger row carries the same trace id, so a span is found from an audit row
    import sqlite3

    ids = {r[0] for r in sqlite3.connect(repo / ".shipyard" / "ledger.db").execute(
        "select trace_id from llm_calls")}
    assert ids == {run_span["trace_id"]}


def test_run_feature_console_script_is_the_same_command(make_repo):
    repo = make_repo()
    exe = str(Path(sys.executable).parent / "run-feature")
    proc = subprocess.run([exe, "Add multiply", "--repo", str(repo), "--json", "--no-input"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 3
    assert json.loads(proc.stdout.splitlines()[-1])["gate"] == "G0"
    assert git(repo, "status", "--porcelain") == ""  # .shipyard/ is excluded, repo clean


def test_replay_redrives_a_run_from_the_ledger_without_any_model(make_repo, cli, tmp_path):
    import sqlite3

    repo = make_repo(human=["G6"])
    first = _start(cli, repo)
    assert first["gate"] == "G6"
    (repo / "shipyard.toml").write_text(
        (repo / "shipyard.toml").read_text().replace(
            'default = "scripted:', f'default = "replay:{first["run_id"]}"\n# was: "scripted:'))
    git(repo, "commit", "-qam", "replay the first run")
    second = _start(cli, repo)
    assert (second["status"], second["gate"]) == ("waiting", "G6")
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")

    def replies(run_id: str) -> list[tuple]:
        return db.execute("select agent, task, response from llm_calls where run_id=? "
                          "order by seq", [run_id]).fetchall()

    assert sorted(replies(second["run_id"])) == sorted(replies(first["run_id"]))
    models = {r[0] for r in db.execute("select model from llm_calls where run_id=?",
                                       [second["run_id"]])}
    assert models == {f"replay:{first['run_id']}"}


def test_replaying_an_unknown_run_is_a_usage_error(tmp_path, cli):
    repo = make_calc_repo(tmp_path / "r", toml='[models]\ndefault = "replay:nope"\n')
    code, _, err = cli("run-feature", "Add x", "--repo", repo)
    assert code == 2 and "cannot replay run 'nope'" in err
