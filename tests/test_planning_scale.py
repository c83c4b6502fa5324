"""How much planning a request gets is decided by code, recorded, and shortens only the
documents: every gate still runs and every human gate still asks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import git

from shipyard.agents.base import brief_schema
from shipyard.agents.planner import OnePager
from shipyard.graphs.scale import planning_scale


def _run(cli, repo: Path, feature: str) -> dict:
    _, out, _ = cli("run-feature", feature, "--repo", repo, "--json")
    return json.loads(out.strip().splitlines()[-1])


def _calls(repo: Path, task: str) -> list[sqlite3.Row]:
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    db.row_factory = sqlite3.Row
    return db.execute("select * from llm_calls where task=? order by seq", [task]).fetchall()


def _asked_for(call: sqlite3.Row) -> str:
    """The schema sketch the model was shown: the last lines of the user message."""
    return json.loads(call["messages"])[-1]["content"].rsplit("shaped like:", 1)[-1]


@pytest.mark.parametrize("feature", [
    "Add a multiply(a, b) helper",
    "Implement the function `below_zero` in solution.py as its docstring says, and add tests.",
])
def test_a_short_plain_request_gets_the_brief_plan(feature):
    assert planning_scale(feature)[0] == "brief"


@pytest.mark.parametrize(("feature", "why"), [
    ("Add a login form that checks the password", "login"),
    ("Store the email address in the database", "email"),
    ("Call the OpenAI API to summarise the changelog", "OpenAI"),
    ("word " * 61, "61 words"),
])
def test_a_request_with_a_risk_concern_or_many_words_gets_the_full_plan(feature, why):
    scale, reason = planning_scale(feature)
    assert scale == "full" and why in reason


def test_policy_can_always_ask_for_the_full_plan():
    assert planning_scale("Add a multiply(a, b) helper", "full")[0] == "full"


def test_a_brief_schema_keeps_only_the_named_fields_and_widens_back_with_defaults():
    brief = brief_schema(OnePager, ("title", "problem", "acceptance_criteria"))
    assert set(brief.model_fields) == {"title", "problem", "acceptance_criteria"}
    answer = brief.model_validate({"title": "Multiply", "problem": "none yet",
                                   "acceptance_criteria": ["multiply(3, 4) == 12"]})
    full = OnePager.model_validate(answer.model_dump())
    assert full.risks == [] and full.acceptance_criteria == ["multiply(3, 4) == 12"]
    with pytest.raises(TypeError, match="no default"):
        brief_schema(OnePager, ("risks",))          # title/problem could not be filled


def test_a_small_request_asks_for_the_brief_documents_and_records_why(make_repo, cli):
    repo = make_repo(human=["G6"])
    r = _run(cli, repo, "Add a multiply(a, b) helper")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    onepager = _asked_for(_calls(repo, "onepager")[0])
    assert '"acceptance_criteria"' in onepager and '"risks"' not in onepager
    rfc = _asked_for(_calls(repo, "rfc")[0])
    assert '"files"' in rfc and '"alternatives"' not in rfc
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    (data,) = db.execute("select data from events where kind='planning_scale'").fetchone()
    assert json.loads(data)["scale"] == "brief" and json.loads(data)["decided_by"] == "code"
    # risk scoping of a request that names no risk is decided by code, with its reason
    assert not [t for t in ("scope", "threats", "forecast") if _calls(repo, t)]
    scoped = [json.loads(d) for (d,) in db.execute(
        "select data from events where kind='scoping_decided_by_code'")]
    assert sorted(d["task"] for d in scoped) == ["forecast", "scope", "threats"]
    assert all("names no security" in d["reason"] for d in scoped)
    # the documents still exist, written from what the brief plan holds
    onepager_md = git(repo, "show", f"shipyard/{r['run_id']}:docs/shipyard/{r['run_id']}/one-pager.md")
    assert "## Acceptance criteria" in onepager_md


def test_a_request_with_a_concern_asks_for_the_whole_one_pager(make_repo, cli):
    repo = make_repo(human=["G6"])
    _run(cli, repo, "Add a multiply(a, b) helper that logs each call to the audit database")
    assert '"risks"' in _asked_for(_calls(repo, "onepager")[0])


def test_release_notes_reuse_the_prompt_prefix_the_reviewers_shared(make_repo, cli):
    repo = make_repo(human=["G6"])
    r = _run(cli, repo, "Add a multiply(a, b) helper")
    code, out, err = cli("approve", r["run_id"], "--repo", repo, "--as", "dri@example.com",
                         "--json")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["status"] == "merged", err
    review = json.loads(_calls(repo, "review")[-1]["messages"])
    notes = json.loads(_calls(repo, "release_notes")[0]["messages"])
    assert review[0] == notes[0]                          # the same system prompt
    shared = review[1]["content"].split("</data>\n", 2)
    assert notes[1]["content"].startswith("</data>\n".join(shared[:2]))   # request + diff
    assert "docs/shipyard" not in notes[1]["content"]     # our planning documents are not the change
