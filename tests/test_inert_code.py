"""Code whose result does not depend on its input is sent back, not merged
(graphs/inert.py).

HumanEval 41 at 2197e49 (2026-12-08): with no example in the docstring, the Test
Engineer's cases said 0, 0, 0, 1, 2, 3 for car_race_collision(0…5); two samples that
returned 0 for every n passed the first three, agreed with each other everywhere, the
other three were set aside on the Test Engineer's answer 0, and the constant merged.
"""

from __future__ import annotations

import json
import sqlite3

from conftest import MULTIPLY_EDIT, git

from shipyard.graphs.inert import constant, inert

ZERO_EDIT = MULTIPLY_EDIT.replace("return a * b", "return 0")
FEATURE = "Add a multiply(a, b) helper to calc/core.py that returns the product"


def test_a_constant_is_one_value_for_every_case_where_the_cases_expect_several():
    assert constant(["0", "0", "0"], ["0", "0", "6"]) == "0"
    assert constant(["0", "0", "0"], ["0", "0", "0"]) is None    # the cases agree with it
    assert constant(["0", "0", "6"], ["0", "0", "6"]) is None    # it depends on its input
    assert constant(["0", "0"], ["0", "6"]) is None              # too few calls to say
    # a predicate may well be False on a handful of inputs, and a raise fails the cases
    assert constant(["False"] * 3, ["False", "True", "True"]) is None
    assert constant(["raised ValueError: x"] * 3, ["1", "2", "3"]) is None


def test_it_is_inert_only_if_every_input_near_the_cases_gives_that_value_too():
    why = inert("multiply", "0", ["0", "0", "6"], ["0", "0", "raised TypeError", "0"])
    assert why is not None and why.startswith("multiply returns 0 for every input tried")
    assert "which expect 0, 6" in why and "3 inputs near them" in why
    assert inert("multiply", "0", ["0", "0", "6"], ["0", "5", "0", "0"]) is None
    assert inert("multiply", "0", ["0", "0", "6"], ["0", "raised TypeError"]) is None


def test_code_that_ignores_its_input_is_sent_back_though_an_answer_backs_it(
        make_repo, cli, replies):
    # no example in the request: the cases are the Test Engineer's alone; four answers of
    # `return 0`, to both prompts, pass two of them and agree against multiply(2, 3) == 6,
    # and asked again the Test Engineer answers 0 — without the rule the case is set aside
    # and `return 0` merges
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(0, 5)", "expected": "0"}, {"call": "multiply(3, 0)", "expected": "0"},
        {"call": "multiply(2, 3)", "expected": "6"}]}]
    replies["test.answer"] = [{"expected": "0"}]
    replies["implementer.implement"] = [{"raw": ZERO_EDIT}] * 4 + [{"raw": MULTIPLY_EDIT}] * 6
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    _, out, _ = cli("run-feature", FEATURE, "--repo", repo, "--json")
    r = json.loads(out.strip().splitlines()[-1])
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    assert "return a * b" in git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    attempts = [json.loads(d) for (d,) in db.execute(
        "select data from events where kind='inner_attempt' order by seq")]
    assert attempts[0]["problems"][0].startswith("multiply returns 0 for every input tried")
    assert not [d for (d,) in db.execute(
        "select data from events where kind='acceptance_case_disputed'")]
