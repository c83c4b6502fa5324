"""The eval suite (issue 10): labelled data, deterministic metrics, release gating, golden
replays, and deepeval kept offline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from conftest import git, make_calc_repo

from shipyard.evals.cases import MINIMUM, load_cases

ROOT = Path(__file__).resolve().parent.parent


def _project(tmp_path: Path, toml: str = "", version: str = "1.0.0") -> Path:
    """A git repository with a version to release and a shipyard.toml."""
    repo = tmp_path / "proj"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text(f'[project]\nname = "p"\nversion = "{version}"\n')
    (repo / "shipyard.toml").write_text(toml)
    (repo / ".gitignore").write_text(".shipyard/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    return repo


# -- data ----------------------------------------------------------------------------------------
def test_every_agent_has_at_least_the_minimum_cases_and_reviewer_cases_name_their_source():
    cases = load_cases()
    for agent, minimum in MINIMUM.items():
        assert len([c for c in cases if c.agent == agent]) >= minimum, agent
    reviews = [c for c in cases if c.task == "review" and c.agent != "redteam"]
    assert {c.label for c in reviews} == {"good", "bad"}
    for c in reviews:  # real commits, with their licence, and a diff that names the file
        assert re.fullmatch(r"[0-9a-f]{40}", c.source["commit"]) and c.source["license"] == "MIT"
        assert c.input["diff"].startswith("diff --git a/")
    sources = (ROOT / "shipyard" / "evals" / "data" / "SOURCES.md").read_text()
    for c in reviews:
        assert c.source["commit"][:12] in sources


def test_planted_defects_are_labelled_bad_and_sit_inside_their_diff():
    from shipyard.graphs.review import parse_diff

    for c in load_cases():
        if c.label == "bad":
            assert c.expect["verdict"] == "block" and c.defect
            assert parse_diff(c.input["diff"]).contains(c.expect["path"], c.expect["line"]), c.id


# -- the suite -----------------------------------------------------------------------------------
def test_reference_answers_hold_every_threshold_and_scores_land_in_the_ledger(tmp_path, cli):
    repo = _project(tmp_path)
    code, out, _ = cli("eval", "--model", "reference", "--json", "--repo", repo)
    report = json.loads(out)
    assert code == 0 and report["passed"]
    scored = {(r["agent"], r["metric"]): r for r in report["results"]}
    assert scored[("security", "catch_rate")]["score"] == 1.0
    assert scored[("test", "false_block_rate")]["score"] == 0.0
    assert scored[("implementer", "tests_pass")]["n"] == 20
    assert scored[("redteam", "no_secret_leak")]["score"] == 1.0
    # no judge configured: LLM-judged metrics are skipped with the reason, never scored
    judged = scored[("planner", "plan_quality")]
    assert judged["score"] is None and "no judge model configured" in judged["skipped"]
    from shipyard.runtime.ledger import Ledger

    ledger = Ledger.for_repo(repo)
    rows = ledger.rows("evals", run_id=report["suite_id"])
    assert {(r["agent"], r["metric"]) for r in rows} == set(scored)
    assert ledger.verify().ok


def test_scripted_model_that_approves_everything_misses_the_planted_defects(tmp_path, cli):
    approve = {"verdict": "approve", "summary": "fine", "findings": []}
    script = tmp_path / "approve.yaml"
    script.write_text(yaml.safe_dump({"replies": {"security": [approve]}}))
    repo = _project(tmp_path)
    code, out, err = cli("eval", "--agent", "security", "--model", f"scripted:{script}",
                         "--repo", repo)
    assert code == 1
    row = next(line for line in out.splitlines() if "catch_rate" in line)
    assert "0.000" in row and "✘" in row
    assert "false_block_rate" in out and "FAILED" in err


def test_a_test_engineer_that_works_out_values_wrongly_scores_low_on_its_own_accuracy(
        tmp_path, cli):
    # the first plan case is run_length's: one expected value right, one wrong; the first
    # answer case asks run_length("zzzz"), whose value is 'z4'
    plan = {"strategy": "s", "cases": [
        {"call": 'run_length("aaab")', "expected": "'a3b1'"},
        {"call": 'run_length("abba")', "expected": "'a2b2'"}]}
    approve = {"verdict": "approve", "summary": "fine", "findings": []}
    script = tmp_path / "te.yaml"
    script.write_text(yaml.safe_dump({"replies": {
        "test.plan": [plan], "test.answer": [{"expected": "'z3'"}], "test": [approve]}}))
    code, out, _ = cli("eval", "--agent", "test", "--model", f"scripted:{script}",
                       "--sample", "1", "--json", "--repo", _project(tmp_path))
    scored = {r["metric"]: r for r in json.loads(out)["results"]}
    assert scored["cases_correct"]["score"] == 0.5 and scored["cases_correct"]["n"] == 1
    assert scored["answer_correct"]["score"] == 0.0 and not scored["answer_correct"]["passed"]
    assert code == 1


def test_an_unknown_agent_is_a_usage_error_naming_the_known_ones(tmp_path, cli):
    code, _, err = cli("eval", "--agent", "nobody", "--repo", _project(tmp_path))
    assert code == 2 and "security" in err and "implementer" in err


def test_one_dataset_of_an_agent_runs_alone_and_an_unknown_one_names_the_others(tmp_path, cli):
    repo = _project(tmp_path)
    code, out, _ = cli("eval", "--agent", "test.answer", "--model", "reference", "--json",
                       "--repo", repo)
    assert code == 0 and {r["metric"] for r in json.loads(out)["results"]} == {
        "answer_correct", "schema_valid"}
    code, _, err = cli("eval", "--agent", "test.nope", "--repo", repo)
    assert code == 2 and "test.plan" in err and "test.review" in err


# -- release -------------------------------------------------------------------------------------
class PromptReadingReviewer:
    """A security reviewer that finds what its prompt tells it to look for: with the
    instruction to look for injection and secrets it blocks on them, without it approves.
    Its verdicts follow the prompt, which is exactly what a release must notice."""

    provider = model = "prompt-reader"
    request_params: ClassVar[dict[str, Any]] = {"backend": "test"}

    def request(self, req):
        from shipyard.runtime.models import RawReply

        prompt = req.messages[-1]["content"]
        looks_for = []
        if "eval/exec/shell built from input" in prompt:
            looks_for.append(("injection", r"shell=True|eval\("))
        if "hard-coded secrets" in prompt:
            looks_for.append(("secret", r"REDACTED|PASSWORD|_KEY"))
        hit = _first_added(prompt, looks_for)
        reply = {"verdict": "approve", "summary": "nothing found", "findings": []}
        if hit:
            rule, path, line = hit
            reply = {"verdict": "block", "summary": f"{rule} in the diff", "findings": [
                {"rule": rule, "severity": "high", "path": path, "line": line,
                 "message": f"{rule} at line {line}"}]}
        return RawReply(content=json.dumps(reply), input_tokens=1, output_tokens=1,
                        model=self.model, finish_reason="stop")


def _first_added(prompt: str, looks_for: list[tuple[str, str]]) -> tuple[str, str, int] | None:
    path, line = None, 0
    for text in prompt.splitlines():
        if text.startswith("+++ "):
            path = text[4:].removeprefix("b/")
        elif text.startswith("@@"):
            m = re.search(r"\+(\d+)", text)
            line = int(m.group(1)) - 1 if m else 0
        elif text.startswith("+"):
            line += 1
            for rule, pattern in looks_for:
                if re.search(pattern, text):
                    return rule, path, line
        elif not text.startswith("-"):
            line += 1
    return None


def _release(repo: Path, version: str, **kw: Any):
    from shipyard.config import load_settings
    from shipyard.evals.release import release
    from shipyard.runtime.ledger import Ledger

    return release(repo, settings=load_settings(repo), ledger=Ledger.for_repo(repo),
                   version=version, backends={"prompt-reader": PromptReadingReviewer()}, **kw)


def _degrade_security_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The security review task without its checklist of what to look for."""
    from dataclasses import replace

    from shipyard.agents import _prompts

    original = _prompts.load_prompt

    def degraded(role: str):
        prompt = original(role)
        if role != "security":
            return prompt
        return replace(prompt, tasks={**prompt.tasks, "review": "context: change\nReview the "
                                      "diff above. Approve unless something is wrong."})

    _prompts._templates.cache_clear()
    monkeypatch.setattr(_prompts, "load_prompt", degraded)


@pytest.fixture
def _fresh_templates():
    from shipyard.agents import _prompts

    yield
    _prompts._templates.cache_clear()


def test_release_refuses_a_degraded_prompt_naming_the_metric_and_its_delta(
        tmp_path, monkeypatch, _fresh_templates):
    repo = _project(tmp_path, '[models]\ndefault = "reference"\nsecurity = "prompt-reader"\n')
    first = _release(repo, "1.0.0", per_dataset=4)
    assert first.ok, first.reasons()
    assert first.tag == "v1.0.0" and "v1.0.0" in git(repo, "tag", "--list")
    _degrade_security_prompt(monkeypatch)
    second = _release(repo, "1.1.0", per_dataset=4)
    assert not second.ok
    regressed = {f"{r.agent}.{r.metric}": r.delta for r in second.regressions}
    assert regressed["security.catch_rate"] == -1.0
    assert any("security.catch_rate regressed: 1.000 → 0.000 (delta -1.000)" in r
               for r in second.reasons())
    assert "v1.1.0" not in git(repo, "tag", "--list")


def test_release_cli_exits_1_naming_the_regressed_metric(tmp_path, cli, monkeypatch,
                                                          _fresh_templates):
    from shipyard.evals import suite

    repo = _project(tmp_path, '[models]\ndefault = "reference"\nsecurity = "prompt-reader"\n')
    real = suite.run_suite
    monkeypatch.setattr(suite, "run_suite", lambda *a, **k: real(
        *a, **{**k, "backends": {"prompt-reader": PromptReadingReviewer()}}))
    import shipyard.evals.release as rel

    monkeypatch.setattr(rel, "run_suite", suite.run_suite)
    assert cli("release", "--version", "1.0.0", "--sample", "4", "--repo", repo)[0] == 0
    _degrade_security_prompt(monkeypatch)
    code, _, err = cli("release", "--version", "1.1.0", "--sample", "4", "--repo", repo)
    assert code == 1
    assert "security.catch_rate regressed" in err and "delta -1.000" in err
    assert "release 1.1.0 refused" in err


def test_a_successful_release_writes_cards_commits_tags_and_records_it(tmp_path):
    repo = _project(tmp_path, '[models]\ndefault = "reference"\n', version="2.3.4")
    out = _release(repo, None, per_dataset=2)  # version from pyproject.toml
    assert out.ok and out.tag == "v2.3.4"
    card = (repo / "PROMPT_CARDS.md").read_text()
    assert "## security 2.0.0" in card and "catch_rate" in card
    assert "intended use: STRIDE threat modelling" in card
    model_card = (repo / "MODEL_CARD.md").read_text()
    assert "| security | `reference` |" in model_card and out.suite.suite_id in model_card
    assert "MODEL_CARD.md" in git(repo, "show", "--name-only", "v2.3.4")
    from shipyard.evals.release import last_release
    from shipyard.runtime.ledger import Ledger

    assert last_release(Ledger.for_repo(repo))["tag"] == "v2.3.4"


def test_a_release_below_a_threshold_is_refused_even_without_a_previous_release(tmp_path):
    approve = {"verdict": "approve", "summary": "fine", "findings": []}
    script = tmp_path / "approve.yaml"
    script.write_text(yaml.safe_dump({"replies": {"test": [approve]}}))
    repo = _project(tmp_path, f'[models]\ndefault = "reference"\ntest = "scripted:{script}"\n')
    out = _release(repo, "1.0.0", per_dataset=2)
    assert not out.ok and out.previous is None
    assert any(r.startswith("test.catch_rate 0.000 misses its threshold") for r in out.reasons())
    assert not (repo / "MODEL_CARD.md").exists()


# -- golden runs ---------------------------------------------------------------------------------
def test_a_replayed_run_reproduces_its_decisions_and_diverges_loudly_after_a_prompt_edit(
        make_repo, cli, monkeypatch, _fresh_templates):
    import sqlite3

    def start() -> dict:
        _, out, _ = cli("run-feature", "Add multiply", "--repo", repo, "--json")
        return json.loads(out.splitlines()[-1])

    repo = make_repo(human=["G6"])
    first = start()
    assert first["gate"] == "G6"
    toml = (repo / "shipyard.toml").read_text()
    (repo / "shipyard.toml").write_text(re.sub(r'default = "scripted:[^"]*"',
                                               f'default = "replay:{first["run_id"]}"', toml))
    git(repo, "commit", "-qam", "replay the first run")
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")

    def decisions(run_id: str) -> list[tuple]:
        return db.execute("select kind, gate, data from events where run_id=? and kind in "
                          "('g5_decision') order by seq", [run_id]).fetchall()

    second = start()
    assert (second["status"], second["gate"]) == ("waiting", "G6")
    assert decisions(second["run_id"]) == decisions(first["run_id"])
    _degrade_security_prompt(monkeypatch)
    third = start()
    assert third["status"] == "failed"
    assert re.search(r"replay of run \S+ diverged at security\.review call 1 .*message 2 "
                     r"\(user\) line \d+", third["reason"]), third["reason"]


# -- offline -------------------------------------------------------------------------------------
def test_importing_shipyard_and_its_cli_does_not_import_deepeval():
    code = ("import sys, shipyard, shipyard.cli, shipyard.evals, shipyard.evals.suite; "
            "sys.exit(1 if 'deepeval' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0


BLOCKED = r'''
import socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(args[:2])
    raise OSError("network blocked by the test")
socket.socket.connect = lambda self, addr: refuse(addr)
socket.socket.connect_ex = lambda self, addr: refuse(addr)
socket.create_connection = refuse
socket.getaddrinfo = refuse
from pathlib import Path
from shipyard.config import load_settings
from shipyard.evals.suite import run_suite
from shipyard.runtime.ledger import Ledger
repo = Path(sys.argv[1])
suite = run_suite(repo, settings=load_settings(repo), ledger=Ledger.for_repo(repo),
                  model="reference", per_dataset=2)
import deepeval
print(len(suite.cases), suite.passed, "deepeval" in sys.modules, attempts)
'''


def test_deepeval_makes_no_network_call_with_sockets_blocked(tmp_path):
    repo = _project(tmp_path)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("DEEPEVAL")}
    proc = subprocess.run([sys.executable, "-c", BLOCKED, str(repo)], check=False, capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cases, passed, loaded, attempts = proc.stdout.split(" ", 3)
    assert int(cases) > 10 and passed == "True" and loaded == "True"
    assert attempts.strip() == "[]"
    assert not (repo / ".deepeval").exists() and not (ROOT / ".deepeval").exists()


@pytest.mark.slow
def test_the_embedded_model_runs_a_small_sample_of_the_suite(tmp_path, cli):
    repo = make_calc_repo(tmp_path / "r", toml='[models]\ndefault = "local"\n')
    code, out, _ = cli("eval", "--model", "local", "--sample", "1", "--agent", "security",
                       "--json", "--repo", repo)
    report = json.loads(out)
    assert code in (0, 1) and report["model"] == "local"
    assert {r["metric"] for r in report["results"]} >= {"schema_valid", "catch_rate"}
