"""Issue 7: the embedded team ships — edits, not rewrites; nothing broken on the branch;
an inner loop before any review; grounded and scoped reviews; a shared prompt prefix."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import CALC_CORE, CALC_CORE_WITH_MULTIPLY, MULTIPLY_EDIT, git

from shipyard.agents.edits import EditError, apply_edits, parse_blocks
from shipyard.agents.examples import Example, extract_examples, renamed
from shipyard.graphs.review import ground_review, parse_diff


def _start(cli, repo: Path, feature: str = "Add a multiply(a, b) helper") -> dict:
    _, out, _ = cli("run-feature", feature, "--repo", repo, "--json")
    return json.loads(out.strip().splitlines()[-1])


def _db(repo: Path) -> sqlite3.Connection:
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    db.row_factory = sqlite3.Row
    return db


def _events(repo: Path, kind: str) -> list[dict]:
    return [json.loads(r["data"]) for r in
            _db(repo).execute("select data from events where kind=? order by seq", [kind])]


# -- edits ---------------------------------------------------------------------------------
def test_an_edit_leaves_every_untouched_line_byte_identical():
    old = CALC_CORE + "\n\ndef keep(x):\n    return x  # odd   spacing stays\n"
    new = apply_edits(parse_blocks(MULTIPLY_EDIT), {"calc/core.py": old}.get).files["calc/core.py"]
    assert new.startswith(old.rstrip("\n"))  # every old byte, in place
    assert "def multiply(a: int, b: int) -> int:" in new


def test_a_function_is_replaced_in_place_and_all_keeps_its_names():
    old = ('"""m."""\n\n__all__ = ["a", "b"]\n\n\ndef a():\n    return 1\n\n\n'
           'def b():\n    return 2\n')
    reply = 'FILE: m.py\n```python\n__all__ = ["c"]\n\ndef a():\n    return 10\n```\n'
    new = apply_edits(parse_blocks(reply), {"m.py": old}.get).files["m.py"]
    assert "return 10" in new and "return 1\n" not in new
    assert "def b():\n    return 2\n" in new                    # untouched function intact
    assert '"a"' in new and '"b"' in new and '"c"' in new       # __all__ merged, not replaced


def test_a_reply_cut_off_inside_a_code_block_is_a_failed_generation():
    try:
        parse_blocks("FILE: calc/core.py\n```python\ndef multiply(a, b):\n    return a *")
    except EditError as exc:
        assert "cut off" in str(exc)
    else:
        raise AssertionError("a truncated reply was accepted")


def test_a_forgotten_closing_fence_before_the_next_file_header_ends_the_block():
    reply = ("FILE: calc/core.py\n```python\ndef multiply(a, b):\n    return a * b\n\n"
             "FILE: calc/extra.py\n```python\ndef double(a):\n    return 2 * a\n```\n")
    blocks = parse_blocks(reply)
    assert [(b.path, b.code) for b in blocks] == [
        ("calc/core.py", "def multiply(a, b):\n    return a * b\n\n"),
        ("calc/extra.py", "def double(a):\n    return 2 * a\n")]


def test_code_that_does_not_parse_is_sent_back_not_written():
    reply = "FILE: calc/core.py\n```python\ndef multiply(a, b)\n    return a * b\n```\n"
    applied = apply_edits(parse_blocks(reply), {"calc/core.py": CALC_CORE}.get)
    assert applied.problems and "does not parse" in applied.problems[0]
    assert "calc/core.py" not in applied.files


def test_docstring_examples_become_cases_without_a_model():
    doc = ">>> slugify('Hello World')\n'hello-world'\nAlso slugify('A  b') == 'a-b'."
    cases = extract_examples(doc, {"slugify"}, source="docstring")
    assert [(c.call, c.expected) for c in cases] == [("slugify('Hello World')", "'hello-world'"),
                                                      ("slugify('A  b')", "'a-b'")]


def test_an_example_wrapped_in_a_builtin_is_still_an_example_and_loses_its_comment():
    # HumanEval 32: `round(find_zero([1, 2]), 2) # f(x) = 1 + 2x` then `-0.5`
    doc = (">>> round(find_zero([1, 2]), 2) # f(x) = 1 + 2x\n-0.5\n"
           ">>> sorted(roots([1, 0, -1]))\n[-1.0, 1.0]\n>>> print(find_zero([1]))\nNone\n")
    cases = extract_examples(doc, {"find_zero", "roots"}, source="docstring")
    assert [(c.call, c.expected, c.function) for c in cases] == [
        ("round(find_zero([1, 2]), 2)", "-0.5", "find_zero"),
        ("sorted(roots([1, 0, -1]))", "[-1.0, 1.0]", "roots")]   # print is no wrapper


def test_a_worked_example_states_its_result_not_its_first_number():
    # HumanEval 67: the arithmetic after the arrow ends in the result
    doc = ('fruit_distribution("5 apples and 6 oranges", 19) ->19 - 5 - 6 = 8\n'
           "area(2, 3) -> 2 * 3 = 6\nsame(1) -> 1\nlabel(1) -> 'a' = 'b'\n")
    cases = extract_examples(doc, {"fruit_distribution", "area", "same", "label"},
                             source="docstring")
    assert [(c.call, c.expected) for c in cases] == [
        ('fruit_distribution("5 apples and 6 oranges", 19)', "8"), ("area(2, 3)", "6"),
        ("same(1)", "1"), ("label(1)", "'a'")]          # only arithmetic is worked out


def test_a_case_written_as_the_argument_alone_calls_the_one_function_named():
    from shipyard.graphs.acceptance import _as_call

    assert _as_call("ab", "decode") == "decode('ab')"
    assert _as_call("[1, 2]", "f") == "f([1, 2])" and _as_call("1, 2", "f") == "f(1, 2)"
    assert _as_call("g(1)", "f") == "g(1)" and _as_call("", "f") == ""
    assert _as_call(",30", "f") == "f(30)" and _as_call("'a', ", "f") == "f('a')"


# -- the pipeline ----------------------------------------------------------------------------
def test_a_truncated_implementer_output_is_never_committed(make_repo, cli, replies):
    replies["implementer.implement"] = [{"raw": "FILE: calc/core.py\n```python\n"
                                                "def multiply(a: int, b: int) -> int:\n"
                                                "    return a *"}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo)
    assert r["status"] == "failed" and "cut off" in r["reason"]
    branch = f"shipyard/{r['run_id']}"
    assert git(repo, "show", f"{branch}:calc/core.py") == CALC_CORE  # nothing of it landed


def test_a_failing_acceptance_case_goes_back_to_the_implementer_before_any_review(
        make_repo, cli, replies):
    wrong = MULTIPLY_EDIT.replace("return a * b", "return a + b")
    replies["implementer.implement"] = [{"raw": wrong}, {"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo)
    assert (r["status"], r["gate"]) == ("waiting", "G6")
    attempts = _events(repo, "inner_attempt")
    assert [a["passed"] for a in attempts] == [False, True, True]   # the third agrees
    assert attempts[0]["results"][0]["got"] == "7"                 # multiply(3, 4) gave 7
    second = _db(repo).execute("select messages from llm_calls where agent='implementer' "
                               "order by seq").fetchall()[1]["messages"]
    assert "multiply(3, 4) returned 7, expected 12" in second
    reviews = _db(repo).execute("select count(*) from llm_calls where task='review'").fetchone()
    assert reviews[0] == 3                          # one round: security, test, docs


def test_an_ungrounded_block_is_a_note_and_a_grounded_one_blocks():
    diff = parse_diff("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,5 @@\n"
                      " x = 1\n+def f(s):\n+    return eval(s)\n")
    ungrounded = ground_review({"verdict": "block", "summary": "looks risky", "findings": [
        {"rule": "injection", "path": "other.py", "line": 40, "message": "eval"}]}, diff, [])
    assert ungrounded["verdict"] == "approve" and ungrounded["note"]
    grounded = ground_review({"verdict": "block", "summary": "eval of input", "findings": [
        {"rule": "injection", "path": "m.py", "line": 3, "message": "eval of input"}]}, diff, [])
    assert grounded["verdict"] == "block" and grounded["findings"][0]["grounded"]


def test_a_finding_about_code_the_diff_does_not_change_is_a_note():
    # seen on `make demo`: "`normalize_whitespace` has been updated", citing a context line
    diff = parse_diff("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,4 @@\n"
                      " def normalize(s):\n     return s\n+def slugify(s):\n+    return s\n")
    stale = {"rule": "stale-docs", "path": "m.py", "line": 1,
             "message": "The function `normalize` has been updated; its docs are stale"}
    review = ground_review({"verdict": "block", "summary": "docs", "findings": [stale]}, diff, [])
    assert review["verdict"] == "approve"
    assert "normalize, which the diff does not change" in review["findings"][0]["why_not"]
    on_it = {**stale, "line": 3, "message": "`slugify()` has no docstring"}
    review = ground_review({"verdict": "block", "summary": "docs", "findings": [on_it]}, diff, [])
    assert "which the diff does not change" not in review["findings"][0].get("why_not", "")


def test_a_finding_on_the_acceptance_tests_shipyard_wrote_is_a_note_not_a_block():
    # the Implementer may not change G3's tests, so blocking on them could never be fixed
    diff = parse_diff("diff --git a/tests/test_f_acceptance.py b/tests/test_f_acceptance.py\n"
                      "--- /dev/null\n+++ b/tests/test_f_acceptance.py\n@@ -0,0 +1,2 @@\n"
                      "+def test_f():\n+    assert f(1) == 2\n")
    review = ground_review({"verdict": "block", "summary": "assert used", "findings": [
        {"rule": "weak-assertion", "path": "tests/test_f_acceptance.py", "line": 2,
         "message": "assert used"}]}, diff, [], fixed=["tests/test_f_acceptance.py"])
    assert review["verdict"] == "approve" and review["note"]
    assert review["findings"][0]["grounded"] is False


PARENS = ("diff --git a/solution.py b/solution.py\n--- a/solution.py\n+++ b/solution.py\n"
          "@@ -1,3 +1,6 @@\n def split_groups(text):\n     \"\"\"Split balanced groups.\"\"\"\n"
          "-    raise NotImplementedError\n+    depth, out = 0, []\n+    for ch in text:\n"
          "+        depth += {'(': 1, ')': -1}.get(ch, 0)\n+    return out\n")


def test_a_finding_whose_cited_lines_show_nothing_of_its_rule_is_a_note():
    # a 0.5B reviewer's "deserialization" on a parenthesis counter (seen in a benchmark run)
    review = ground_review({"verdict": "block", "summary": "insecure", "findings": [
        {"rule": "deserialization", "path": "solution.py", "line": 5,
         "message": "improper input handling"}]}, parse_diff(PARENS), [])
    assert review["verdict"] == "approve" and "nothing" in review["findings"][0]["why_not"]


def test_missing_test_counts_only_for_a_function_no_test_names():
    block = {"verdict": "block", "summary": "untested", "findings": [
        {"rule": "missing-test", "path": "solution.py", "line": 1, "message": "no test"}]}
    diff = parse_diff(PARENS.replace(" def split_groups", "+def split_groups"))
    assert ground_review(block, diff, [], untested=["split_groups"])["verdict"] == "block"
    assert ground_review(block, diff, [], untested=[])["verdict"] == "approve"


def test_a_claim_no_check_can_confirm_is_a_note_for_the_human():
    review = ground_review({"verdict": "block", "summary": "edge cases", "findings": [
        {"rule": "edge-case", "path": "solution.py", "line": 4, "message": "empty input?"}]},
        parse_diff(PARENS), [])
    assert review["verdict"] == "approve" and review["note"]


def test_reviewers_whose_concern_the_diff_does_not_touch_record_not_applicable(make_repo, cli):
    repo = make_repo(human=["G6"])
    _start(cli, repo)
    skipped = {e["role"]: e for e in _events(repo, "review_not_applicable")}
    assert set(skipped) == {"sre", "governance", "finops"}
    assert all(e["decided_by"] == "code" and e["reason"] for e in skipped.values())
    called = {r["agent"] for r in _db(repo).execute(
        "select agent from llm_calls where task='review'")}
    assert called == {"security", "test", "docs"}


def test_the_review_prompts_of_a_round_share_one_prefix(make_repo, cli):
    repo = make_repo(human=["G6"])
    _start(cli, repo)
    prompts = [json.loads(r["messages"]) for r in _db(repo).execute(
        "select messages from llm_calls where task='review' order by seq")]
    assert len(prompts) >= 2
    texts = [p[0]["content"] + "\n" + p[1]["content"] for p in prompts]
    prefix = texts[0]
    for t in texts[1:]:
        while not t.startswith(prefix):
            prefix = prefix[:-1]
    assert "```diff" in prefix and "def multiply" in prefix   # the diff is in the shared part
    assert len(prefix) > 0.7 * min(len(t) for t in texts)      # the role text comes last


def test_a_proposed_case_two_different_implementations_agree_against_is_set_aside(
        make_repo, cli, replies):
    # the Test Engineer miscounts one case; two different correct implementations agree
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "13"}, {"call": "multiply(2, 5)", "expected": "10"}]}]
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT},
                                        {"raw": MULTIPLY_EDIT.replace("a * b", "b * a")}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    disputed = _events(repo, "acceptance_case_disputed")
    assert [(d["call"], d["expected"]) for d in disputed] == [("multiply(3, 4)", "13")]
    test = git(repo, "show", f"shipyard/{r['run_id']}:tests/test_multiply_acceptance.py")
    assert "multiply(2, 5)" in test and "13" not in test      # the disputed case is gone


def test_a_proposed_case_three_samples_fail_each_in_its_own_way_is_set_aside(
        make_repo, cli, replies):
    # HumanEval 13: every sample returned 1 or -1 for greatest_common_divisor(-3, -5), the
    # Test Engineer said 15, and the case blocked correct code for two rounds
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "15"}]}]
    odd = MULTIPLY_EDIT.replace("return a * b", "return a * b if a != 3 else 11")
    replies["implementer.implement"] = [{"raw": odd}, {"raw": MULTIPLY_EDIT},
                                        {"raw": MULTIPLY_EDIT.replace("a * b", "b * a")}]
    replies["test.answer"] = [{"expected": "12"}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["call"] == "multiply(3, 4)" and d["got"] == ["11", "12", "12"]
    assert "3 samples that pass every documented example all fail it" in d["why"]
    [agree] = _events(repo, "candidates_agree")
    assert agree["attempts"] == [1, 2]
    assert "a * b if" not in git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")


def test_two_samples_failing_a_proposed_case_in_two_ways_do_not_set_it_aside(
        make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "15"}]}]
    odd = MULTIPLY_EDIT.replace("return a * b", "return a * b if a != 3 else 11")
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    replies["implementer.implement"] = [{"raw": odd}, {"raw": MULTIPLY_EDIT}] + \
        [{"raw": broken}] * 20
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert r["status"] == "failed", r
    assert _events(repo, "acceptance_case_disputed") == []



def test_samples_that_part_on_a_case_set_aside_do_not_agree(make_repo, cli, replies):
    # HumanEval 79: three samples returned 'dbdb', 'db0db' and '0' for the Test Engineer's
    # wrong decimal_to_binary(0) == 'db000000db'; the case was set aside, they agreed on
    # every input near the cases, and the first, wrong, merged. Here three samples part on
    # multiply(3, 4) alone; only when the right value has a majority does anything merge
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "15"}]}]
    odd = MULTIPLY_EDIT.replace("return a * b", "return a * b if (a, b) != (3, 4) else {}")
    replies["implementer.implement"] = [{"raw": odd.format(11)}, {"raw": MULTIPLY_EDIT},
                                        {"raw": odd.format(10)}, {"raw": MULTIPLY_EDIT}]
    replies["test.answer"] = [{"expected": "12"}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["call"] == "multiply(3, 4)"
    assert [e["attempts"] for e in _events(repo, "candidates_agree")] == [[1, 3, 4]]
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert "(3, 4)" not in code and "return a * b" in code

def _split_on_multiply(make_repo, cli, replies, order: str, answer: str | list[str]
                       ) -> tuple[dict, Path]:
    """A run where the samples split on the proposed case multiply(3, 4) == 15: `order`
    says which attempt returns 11 ("o") and which 12 ("r"); asked again, the Test Engineer
    answers `answer` (a list: those answers in turn)."""
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "15"}]}]
    odd = MULTIPLY_EDIT.replace("return a * b", "return a * b if (a, b) != (3, 4) else 11")
    replies["implementer.implement"] = [{"raw": odd if k == "o" else MULTIPLY_EDIT}
                                        for k in order]
    replies["test.answer"] = [{"expected": a} for a in
                              ([answer] if isinstance(answer, str) else answer)]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    return _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6"), repo


def test_where_samples_split_the_value_the_test_engineer_also_answers_decides(
        make_repo, cli, replies):
    # HumanEval 79: six samples returned 'dbdb' for decimal_to_binary(0), one 'db0db'; the
    # Test Engineer's case said 'db000000db', and asked again it answered 'db0db'. The
    # larger group merged, wrong. Here most samples return 11 for multiply(3, 4), the case
    # says 15, and asked again the Test Engineer answers 12, what the fewer samples return
    r, repo = _split_on_multiply(make_repo, cli, replies, "oroor", answer="12")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["resolved"] == "12" and "12 is both what 2 of them return" in d["why"]
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert "(3, 4)" not in code and "return a * b" in code


def test_samples_that_part_on_a_case_no_answer_resolves_do_not_outvote_it(
        make_repo, cli, replies):
    # HumanEval 81 at 750ce0c: for numerical_letter_grade([0.0] * 5) the case said ['E'],
    # three samples returned [], two others two other lists, and the Test Engineer, asked
    # again, gave none of them; the case was set aside and the three merged, wrong. Here
    # three samples return 12 and two 11 for multiply(3, 4) == 15, and the Test Engineer
    # answers 14: no reading is confirmed, the case stands, and nothing merges
    r, repo = _split_on_multiply(make_repo, cli, replies, "ororr", answer="14")
    assert r["status"] == "failed", r
    assert _events(repo, "acceptance_case_disputed") == []
    [decision] = [d for d in _events(repo, "g5_decision") if d["verdict"] == "block"]
    [why] = decision["reasons"]
    assert "multiply(3, 4) == 15 (the Test Engineer's case) stands" in why
    assert "read it 2 different ways (11, 12)" in why and "revise the request" in why
    assert git(repo, "branch", "--list", "main").strip()
    assert "def multiply" not in git(repo, "show", "main:calc/core.py")


def test_an_answer_found_after_other_values_does_not_resolve_a_split(
        make_repo, cli, replies):
    # HumanEval 41 at 2dab826: four samples returned 2, 20, 6 and 10 for
    # car_race_collision(5); asked again, the Test Engineer said 12, then 0, then 2, and the
    # code returning 2 merged, wrong. A guess that hits one of several readings is no
    # confirmation: here it answers 13, then 12, and nothing merges
    r, repo = _split_on_multiply(make_repo, cli, replies, "oroor", answer=["13", "12"])
    assert r["status"] == "failed", r
    [asked] = _events(repo, "acceptance_case_reasked")
    assert asked["answers"] == ["13", "12"]
    assert _events(repo, "acceptance_case_disputed") == []
    [decision] = [d for d in _events(repo, "g5_decision") if d["verdict"] == "block"]
    assert "multiply(3, 4) == 15 (the Test Engineer's case) stands" in decision["reasons"][0]


def test_samples_that_agree_against_a_case_still_set_it_aside(make_repo, cli, replies):
    # the rule above is about samples that part: all five returning 12 against 15, with the
    # Test Engineer answering 14, set the case aside as before, and a * b merges
    r, repo = _split_on_multiply(make_repo, cli, replies, "rrrrr", answer="14")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["call"] == "multiply(3, 4)" and "resolved" not in d


def test_a_disputed_case_the_test_engineer_gives_again_is_kept_and_the_code_told_of_it(
        make_repo, cli, replies):
    # HumanEval 74: two samples, wrong the same way on a tie, agreed against the right case
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "12"}]}]
    wrong = MULTIPLY_EDIT.replace("return a * b", "return a * b + (a == 3)")
    replies["implementer.implement"] = [{"raw": wrong}, {"raw": wrong}, {"raw": MULTIPLY_EDIT}]
    replies["test.answer"] = [{"expected": "12"}, {"expected": "12.0"}, {"expected": " 12"}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [asked] = _events(repo, "acceptance_case_reasked")
    assert asked["call"] == "multiply(3, 4)" and asked["upheld"]
    assert asked["answers"] == ["12", "12.0", " 12", " 12", " 12"]    # every answer is 12
    assert _events(repo, "acceptance_case_disputed") == []
    # the attempt after the dispute is told of the upheld case, as of a documented example
    prompts = [json.loads(m)[-1]["content"] for (m,) in _db(repo).execute(
        "select messages from llm_calls where agent='implementer' order by seq")]
    assert "multiply(3, 4) returned 13, expected 12" in prompts[2]
    test = git(repo, "show", f"shipyard/{r['run_id']}:tests/test_multiply_acceptance.py")
    assert "multiply(3, 4)" in test                                  # still a test
    assert "(a == 3)" not in git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    # the question shows the call, never the value the samples disputed it with
    [question] = [json.loads(m)[-1]["content"] for (m,) in _db(repo).execute(
        "select messages from llm_calls where agent='test' and task='answer' limit 1")]
    assert "`multiply(3, 4)`" in question and "13" not in question


def test_a_disputed_case_the_test_engineer_answers_otherwise_is_set_aside_saying_so(
        make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "13"}]}]
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    # four of five answers give the case back: one that gives the samples' value is enough
    # (on HumanEval 70-99 two wrong cases were given back four times of five, the one right
    # case five times)
    replies["test.answer"] = [{"expected": "13"}] * 4 + [{"expected": "12"}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["why"].endswith(
        "asked the call again, the Test Engineer answered 12, as the samples return, not 13")
    [asked] = _events(repo, "acceptance_case_reasked")
    assert not asked["upheld"] and asked["answers"] == ["13", "13", "13", "13", "12"]


def test_an_answer_neither_side_gives_does_not_set_a_case_aside(make_repo, cli, replies):
    # HumanEval 74 at 25fa70d: the right tie case, asked again, was first answered
    # `['b', 'c']` — a list neither the case nor the code gives — and was set aside; the two
    # samples returning the second list on a tie merged, wrong
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "12"}]}]
    wrong = MULTIPLY_EDIT.replace("return a * b", "return a * b + (a == 3)")
    replies["implementer.implement"] = [{"raw": wrong}, {"raw": wrong}, {"raw": MULTIPLY_EDIT}]
    replies["test.answer"] = [{"expected": "7"}, {"expected": "12"}, {"expected": "12"},
                              {"expected": "[3, 4]"}, {"expected": "12"}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [asked] = _events(repo, "acceptance_case_reasked")
    assert asked["upheld"] and asked["answers"] == ["7", "12", "12", "[3, 4]", "12"]
    assert _events(repo, "acceptance_case_disputed") == []
    assert "(a == 3)" not in git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")


def test_a_disputed_case_repeating_a_documented_value_is_set_aside_without_asking(
        make_repo, cli, replies):
    # HumanEval 4: asked again, the Test Engineer answered the documented example's 1.0 for
    # every call, and so upheld its wrong mean_absolute_deviation([1.0, 2.0, 3.0]) == 1.0
    # against every right sample. A case whose value is a documented example's is not asked
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 3)", "expected": "6"}]}]
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}] * 3
    replies["test.answer"] = [{"expected": "6"}] * 5
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    assert _events(repo, "acceptance_case_reasked") == []
    assert [e["call"] for e in _events(repo, "acceptance_case_echo")] == ["multiply(3, 3)"]
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["call"] == "multiply(3, 3)" and "documented example's value" in d["why"]
    assert not _db(repo).execute("select 1 from llm_calls where agent='test' and "
                                 "task='answer'").fetchone()
    assert "return a * b" in git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")


NO_EXAMPLE = "Add a multiply(a, b) helper that returns a times b"


def _without_an_example(make_repo, cli, replies, cases: list[tuple[str, str]],
                        implement: list[str], answers: tuple[str, ...] = ("12",),
                        **repo: object) -> tuple[Path, dict]:
    """A run of NO_EXAMPLE whose Test Engineer proposes `cases` ((call, expected)) and,
    asked any call again, answers `answers` in turn (the last one after that); the
    Implementer replies `implement` in turn."""
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": call, "expected": want} for call, want in cases]}]
    replies["implementer.implement"] = [{"raw": raw} for raw in implement]
    replies["test.answer"] = [{"expected": a} for a in answers]
    path = make_repo(**{"human": ["G6"], **repo})
    return path, _start(cli, path, NO_EXAMPLE)


def test_without_an_example_a_case_that_parts_the_code_lets_its_passers_dispute_another(
        make_repo, cli, replies):
    # `sub(a, b)`, asked with no example (2026-12-07): the Test Engineer's integer cases were
    # right and its float cases wrong; the greedy answer `-b` failed the integer ones, the
    # samples `a - b` only the float ones, and the run ended blocked with nothing set aside
    repo, r = _without_an_example(
        make_repo, cli, replies, [("multiply(2, 3)", "6"), ("multiply(3, 4)", "13")],
        [MULTIPLY_EDIT.replace("a * b", "a + b")] * 2 + [MULTIPLY_EDIT])
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["call"] == "multiply(3, 4)"
    assert "samples that pass every proposed case two or more samples pass all return 12" in d["why"]
    assert "return a * b" in git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")


def test_without_an_example_samples_that_split_overrule_no_case(make_repo, cli, replies):
    # multiply(0, 5) == 0 is passed by `a * b` and by `a - a` alike: it tells them apart no
    # better than nothing, and the samples, split between them, may not overrule a case
    repo, r = _without_an_example(
        make_repo, cli, replies, [("multiply(0, 5)", "0"), ("multiply(3, 4)", "13")],
        [MULTIPLY_EDIT.replace("a * b", "a - a")] * 3 + [MULTIPLY_EDIT], max_fix_rounds=0)
    assert r["status"] == "failed", r
    assert _events(repo, "acceptance_case_disputed") == []
    assert "multiply(3, 4) returned" in r["reason"] and "expected 13" in r["reason"]


def test_without_an_example_all_samples_of_both_prompts_together_overrule_a_case(
        make_repo, cli, replies):
    # is_even(n) (2026-12-07): all twenty samples of both prompts returned n % 2 == 0's
    # values against the Test Engineer's is_even(1) == True, and the run ended blocked
    repo, r = _without_an_example(
        make_repo, cli, replies, [("multiply(0, 5)", "0"), ("multiply(3, 4)", "13")],
        [MULTIPLY_EDIT])
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["call"] == "multiply(3, 4)" and d["got"] == ["12"] * len(d["got"])
    assert len(d["got"]) >= 4


def test_without_an_example_samples_all_wrong_alike_do_not_overrule_a_case_alone(
        make_repo, cli, replies):
    # sub(a, b) (features benchmark, 2026-12-07): four samples of `return -b` all returned
    # -2 for the Test Engineer's right sub(1, 2) == -1; asked again it never said -2, and
    # the case was set aside all the same, and `-b` merged. Unanimity needs the Test
    # Engineer's agreement too.
    repo, r = _without_an_example(
        make_repo, cli, replies, [("multiply(0, 5)", "0"), ("multiply(3, 4)", "12")],
        [MULTIPLY_EDIT.replace("a * b", "a * a * b")], answers=("12", "7", "8", "9"),
        max_fix_rounds=0)
    assert r["status"] == "failed", r
    [asked] = _events(repo, "acceptance_case_reasked")
    assert not asked["upheld"] and "36" not in asked["answers"]     # not upheld either
    assert _events(repo, "acceptance_case_disputed") == []
    assert "multiply(3, 4) returned 36, expected 12" in r["reason"]


def test_without_an_example_one_lucky_sample_does_not_confirm_a_case_for_good(
        make_repo, cli, replies):
    # a case one sample passes is confirmed, and no later round may set it aside; without
    # a documented example one sample passing the wrong multiply(3, 4) == 13 is luck
    lucky = MULTIPLY_EDIT.replace("return a * b", "return 13 if (a, b) == (3, 4) else a * b")
    repo, r = _without_an_example(
        make_repo, cli, replies, [("multiply(2, 3)", "6"), ("multiply(3, 4)", "13")],
        [MULTIPLY_EDIT] * 2 + [lucky, MULTIPLY_EDIT])
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["call"] == "multiply(3, 4)"
    assert "return a * b" in git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")


def test_more_noise_than_its_own_value_sets_a_case_aside(make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "13"}]}]
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    replies["test.answer"] = [{"expected": "7"}, {"expected": "13"}, {"expected": "8"},
                              {"expected": "9"}, {"expected": "13"}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    # after four answers, one its own and three noise, a fifth cannot tip it: asking stops
    [asked] = _events(repo, "acceptance_case_reasked")
    assert not asked["upheld"] and asked["answers"] == ["7", "13", "8", "9"]
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["why"].endswith("gave 13 in 1 of 4 answers, and in the others values neither "
                             "side returns (7, 8, 9)")



def test_an_upheld_case_stands_however_many_samples_dispute_it(make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "13"}]}]
    # HumanEval 81 (2026-12-06): overruling an upheld case that eight samples of both
    # prompts disputed merged wrong code; here all ten samples dispute it, and it stands
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    replies["test.answer"] = [{"expected": "13"}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert r["status"] == "failed", r
    assert _events(repo, "acceptance_case_disputed") == []
    assert "multiply(3, 4) returned 12, expected 13" in r["reason"]


def test_a_second_opinion_that_cannot_be_had_leaves_the_dispute_to_the_samples(
        make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "13"}]}]
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    replies["test.answer"] = [{"error": {"status": 400, "message": "context too long"}}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [asked] = _events(repo, "acceptance_case_reasked")
    assert asked["answers"] == [] and "context too long" in asked["error"]
    assert [d["call"] for d in _events(repo, "acceptance_case_disputed")] == ["multiply(3, 4)"]


def test_asking_that_fails_midway_says_so_instead_of_quoting_an_agreeing_answer(
        make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "13"}]}]
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    replies["test.answer"] = [{"expected": "13"}, {"error": {"status": 400, "message": "x"}}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["why"].endswith("the Test Engineer gave 13 in 1 answer(s) before asking failed")


def test_answers_compare_as_values_not_as_text():
    from shipyard.graphs.reask import same_value

    assert same_value("['a', 'b']", '["a","b"]') and same_value(" 12", "12.0")
    assert same_value("db0db", "'db0db'")            # a bare word is the string it spells
    assert not same_value("1", "'1'") and not same_value("1", "True")
    assert not same_value("", "") and not same_value("x", "y")


def test_the_same_code_sampled_twice_agrees_against_a_proposed_case(make_repo, cli, replies):
    # strlen, HumanEval 23: every sample is `return len(string)`; identical independent
    # samples are agreement (CodeT counts duplicates), and the run stops at the second vote
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "13"}, {"call": "multiply(2, 5)", "expected": "10"}]}]
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    assert [(d["call"], d["got"]) for d in _events(repo, "acceptance_case_disputed")] == [
        ("multiply(3, 4)", ["12", "12"])]
    attempts = _events(repo, "inner_attempt")
    # greedy, then the other prompt's greedy answer: a vote of its own
    assert [a["temperature"] for a in attempts] == [0.0, 0.0]


def test_a_sample_that_raises_on_a_proposed_case_abstains_from_its_dispute(
        make_repo, cli, replies):
    # HumanEval 70: of four samples passing the examples, two looped on the proposed inputs
    # and two agreed against them; the case stood, and a correct change was blocked
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "13"}]}]
    loops = MULTIPLY_EDIT.replace("    return a * b", "    if a == 3:\n        raise TimeoutError"
                                  "('took longer than 5s')\n    return a * b")
    replies["implementer.implement"] = [{"raw": loops}, {"raw": MULTIPLY_EDIT},
                                        {"raw": MULTIPLY_EDIT}]
    replies["test.answer"] = [{"expected": "12"}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert (d["call"], d["got"]) == ("multiply(3, 4)", ["12", "12"])
    assert len(_events(repo, "inner_attempt")) == 3       # settled as the second value came
    assert "raise" not in git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")


def test_a_case_a_sample_confirmed_in_one_round_is_not_set_aside_in_the_next(
        make_repo, cli, replies):
    # HumanEval 81: round 0's greedy answer passed two right proposed cases; round 1's two
    # samples, wrong the same way, agreed against them, they were set aside, and it merged
    replies["test.plan"] = [{"strategy": "s", "cases": [
        {"call": "multiply(3, 4)", "expected": "12"}, {"call": "multiply(2, 5)", "expected": "11"}]}]
    nine = MULTIPLY_EDIT.replace("    return a * b", "    return 9 if (a, b) == (2, 5) else a * b")
    wrong = MULTIPLY_EDIT.replace("return a * b", "return a * b + (a == 3)")
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    # round 0: two samples pass 3*4 but split on the wrong 2*5 case (two are too few to set
    # it aside), the rest fail the example, so nothing settles
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}, {"raw": nine}] + [
        {"raw": broken}] * 8 + [{"raw": wrong}, {"raw": MULTIPLY_EDIT}]
    replies["test.answer"] = [{"expected": "10"}]  # resolves the split on 2*5 (below)
    repo = make_repo(human=["G6"], max_fix_rounds=1)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert "multiply(3, 4)" not in [d["call"] for d in _events(repo, "acceptance_case_disputed")]
    assert [a["round"] for a in _events(repo, "inner_attempt")].count(1) >= 1  # round 1 ran
    # round 1's first sample, wrong on 3*4, fails the case round 0 confirmed; three samples
    # each failing 2*5 its own way set that case aside, the Test Engineer's answer 10
    # resolving the split, and round 1's second sample agrees with round 0's first
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py").split("def multiply")[1]
    assert "(a == 3)" not in code and "return a * b" in code


def test_samples_raising_the_same_exception_agree_whatever_its_message(
        make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(-1, 2)", "expected": "-2"}]}]
    def raising(msg):  # ValueError: invalid literal for int() with base 10: <msg>
        return MULTIPLY_EDIT.replace("return a * b", f"return a * b if a >= 0 else int({msg!r})")
    replies["implementer.implement"] = [{"raw": raising("negative")},
                                        {"raw": raising("no negatives, please")}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["call"] == "multiply(-1, 2)" and len(d["got"]) == 2


def test_a_sample_that_passes_the_proposed_case_is_chosen_over_a_dispute(
        make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "13"}]}]
    odd = MULTIPLY_EDIT.replace("return a * b", "return 13 if (a, b) == (3, 4) else a * b")
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}, {"raw": odd}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    assert _events(repo, "acceptance_case_disputed") == []
    assert [a["passed"] for a in _events(repo, "inner_attempt")] == [False, True, True]
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert "return 13 if" in code


def test_a_change_to_existing_code_is_posed_as_a_stub_whose_docstring_asks_for_it(
        make_repo, cli, replies):
    # count_words (2026-12-07): shown a function and told to change it, the 0.5B model gave
    # it back unchanged in 9 of 10 attempts. The stub slots pose it as for a new function:
    # its signature, its docstring's summary and what the request asks, and no body to copy
    unchanged = ('FILE: calc/core.py\n```python\ndef add(a: int, b: int) -> int:\n'
                 '    """Return a + b, plus one."""\n    return a + b\n```\n')
    replies["implementer.implement"] = [{"raw": unchanged}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    _start(cli, repo, "Change add(a, b) in calc/core.py to count one more: add(2, 3) returns 6")
    prompts = [json.loads(m)[-1]["content"] for (m,) in _db(repo).execute(
        "select messages from llm_calls where agent='implementer' order by seq")]
    assert len(prompts) == 8                               # [gates] inner_attempts
    stubs = [i for i, p in enumerate(prompts) if "Feature request" not in p]
    assert stubs == [0, 2, 3, 4, 6, 7]                     # as for a new function
    assert ('"""Return a + b. Count one more: add(2, 3) returns 6.\n\n    >>> add(2, 3)\n'
            '    6\n    """\n```') in prompts[0]
    assert not any("return a + b" in prompts[i] for i in stubs)   # no body to give back
    assert "add(2, 3) returned 5, expected 6 (off by one)" in prompts[1]
    assert not any("plus one" in p for p in prompts)       # the failed code is never shown


def test_the_test_engineer_plans_a_change_from_the_restated_function_not_its_module(
        make_repo, cli, replies):
    # count_words (2026-12-07): shown the module whole, the Test Engineer wrote its cases
    # for the code as it stands and for its neighbours. For a change it is shown what the
    # Implementer's stub slots are: the function posed again, with what is to change.
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    (repo / "calc" / "core.py").write_text(CALC_CORE_WITH_MULTIPLY)
    git(repo, "commit", "-qam", "multiply")
    _start(cli, repo, "Change add(a, b) in calc/core.py to count one more: add(2, 3) returns 6")
    (plan,) = [json.loads(m)[-1]["content"] for (m,) in _db(repo).execute(
        "select messages from llm_calls where agent='test' and task='plan'")]
    assert '"""Return a + b. Count one more: add(2, 3) returns 6.' in plan
    assert "return a + b" not in plan and "def multiply" not in plan


def test_the_test_engineer_plans_a_new_function_beside_the_module_it_joins(
        make_repo, cli, replies):
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    _start(cli, repo, "Add a multiply(a, b) helper to calc/core.py: multiply(2, 3) returns 6")
    (plan,) = [json.loads(m)[-1]["content"] for (m,) in _db(repo).execute(
        "select messages from llm_calls where agent='test' and task='plan'")]
    assert "def add(a: int, b: int) -> int:\n    \"\"\"Return a + b.\"\"\"\n    return a + b" in plan


def test_where_the_stub_can_be_posed_alone_later_samples_are_of_the_stub_not_told_why(
        make_repo, cli, replies):
    # HumanEval 10-99 ledgers, runs whose greedy answers both failed: samples of the stub
    # alone were right 21% of the time, samples told what the last attempt got wrong 6%
    wrong = MULTIPLY_EDIT.replace("a * b", "a + b")
    replies["implementer.implement"] = [{"raw": wrong}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    _start(cli, repo, "Add a multiply(a, b) helper to calc/core.py: multiply(2, 3) returns 6")
    prompts = [json.loads(m)[-1]["content"] for (m,) in _db(repo).execute(
        "select messages from llm_calls where agent='implementer' order by seq")]
    assert len(prompts) == 8
    told = [i for i, p in enumerate(prompts) if "returned 5, expected 6" in p]
    assert told == [1]                    # only the task prompt's greedy answer is told
    assert not any("a + b" in p for p in prompts)          # the failed code is never shown
    alone = [i for i, p in enumerate(prompts) if "Feature request" not in p]
    assert alone == [0, 2, 3, 4, 6, 7]    # the task prompt is still sampled once (5)


def test_the_only_candidate_passing_the_examples_goes_to_the_human_with_the_case_flagged(
        make_repo, cli, replies):
    # make_demo: one attempt in ten passes the request's example; the Test Engineer's cases
    # it fails go to the human at G6 as unconfirmed, instead of failing the run
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "13"}]}]
    wrong = MULTIPLY_EDIT.replace("a * b", "a + b")
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}, {"raw": wrong}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["call"] == "multiply(3, 4)" and d["why"].startswith("unconfirmed")
    _, out, err = cli("status", r["run_id"], "--repo", repo)
    shown = " ".join((out + err).split())                 # the narrative panel wraps lines
    assert "set aside" in shown and "multiply(3, 4)" in shown and "unconfirmed" in shown


def test_an_invalid_test_plan_leaves_the_documented_examples_as_the_cases(
        make_repo, cli, replies):
    replies["test.plan"] = [{"raw": "not json at all"}]
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    assert _events(repo, "test_plan_invalid")[0]["documented_cases"] == 1
    test = git(repo, "show", f"shipyard/{r['run_id']}:tests/test_multiply_acceptance.py")
    assert "multiply(2, 3)" in test


def test_an_invalid_test_plan_with_no_documented_example_fails_the_run_saying_why(
        make_repo, cli, replies):
    replies["test.plan"] = [{"raw": "not json at all"}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo)
    assert r["status"] == "failed" and "does not match" in r["reason"], r


def test_without_a_documented_example_two_samples_agreeing_set_nothing_aside(
        make_repo, cli, replies):
    # seen on `make demo`: two wrong candidates agreed against the one correct proposed case;
    # with no case to part them it takes four samples of both prompts returning one value
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 4)", "expected": "13"}, {"call": "multiply(2, 5)", "expected": "10"}]}]
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT},
                                        {"raw": MULTIPLY_EDIT.replace("a * b", "b * a")},
                                        {"raw": "I would multiply them."}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo)
    assert r["status"] == "failed" and "multiply(3, 4) returned 12, expected 13" in r["reason"]
    assert _events(repo, "acceptance_case_disputed") == []


def test_an_unused_local_in_new_code_is_fixed_by_ruff_not_sent_back(tmp_path):
    from shipyard.graphs.lint import fix_and_lint as _ruff

    git(tmp_path, "init", "-q")
    new = "def f(a):\n    return a\n\n\ndef g(xs):\n    seen = set(xs)\n    return len(xs)\n"
    (tmp_path / "m.py").write_text("def f(a):\n    return a\n")
    fixed, problems = _ruff(tmp_path, {"m.py": new})
    assert problems == [] and "    set(xs)\n    return len(xs)" in fixed["m.py"]
    # a fix that would also change a line the candidate kept from the old file is not taken
    (tmp_path / "m.py").write_text("def f(a):\n    unused = a\n    return a\n")
    kept_old = new.replace("    return a\n", "    unused = a\n    return a\n", 1)
    fixed, problems = _ruff(tmp_path, {"m.py": kept_old})
    assert fixed["m.py"] == kept_old and any("F841" in p for p in problems)


def test_a_test_file_the_implementer_adds_unasked_is_dropped_not_linted(make_repo, cli, replies):
    junk = "\nFILE: tests.py\n```python\nfrom calc.core import multiply\n```\n"   # F401 if kept
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT + junk}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo)
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    attempts = _events(repo, "inner_attempt")
    assert attempts[0]["passed"] and attempts[0]["files"] == ["calc/core.py"]
    assert "tests.py" not in git(repo, "ls-tree", "-r", "--name-only", f"shipyard/{r['run_id']}")


def test_a_reply_that_changes_nothing_or_omits_the_named_function_is_not_green(
        make_repo, cli, replies):
    # seen in `make demo`: the model re-sent the files unchanged and, with no usable case
    # from G3, it was green; an empty change was merged
    unchanged = f"FILE: calc/core.py\n```python\n{CALC_CORE}```\n"
    other = "FILE: calc/core.py\n```python\ndef double(a):\n    return 2 * a\n```\n"
    replies["implementer.implement"] = [{"raw": unchanged}, {"raw": other}, {"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a `multiply` helper")  # no signature given: no stub is written
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    problems = [a["problems"] for a in _events(repo, "inner_attempt")]
    assert "changes nothing" in problems[0][0]
    assert "`multiply` is not defined anywhere" in problems[1][0]
    assert problems[2] == []
    assert "def multiply" in git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")


def test_a_doubled_opening_fence_counts_once():
    # seen in `make demo`: "```" then "```python" opened one block
    blocks = parse_blocks("FILE: a.py\n```\n```python\nx = 1\n```\n")
    assert [(b.path, b.code, b.lang) for b in blocks] == [("a.py", "x = 1\n", "python")]


def test_an_example_followed_by_a_sentence_is_still_an_example():
    # seen on `make demo`: "'hello-world'. Export it" parses as an attribute access
    text = "strip both ends, so slugify('  Hi, You!  ') returns 'hi-you'. Export it too."
    cases = extract_examples(text, {"slugify"}, source="request")
    assert [(c.call, c.expected) for c in cases] == [("slugify('  Hi, You!  ')", "'hi-you'")]


def test_the_implementers_own_test_function_and_its_call_are_dropped():
    from shipyard.graphs.trim import without_tests

    code = ("def f(x):\n    return x\n\n\ndef test_f():\n    assert f(1) == 2\n\n\n"
            "test_f()\nprint(f(2))\n")
    kept = without_tests(code)
    assert "test_f" not in kept and kept.startswith("def f(x):\n    return x\n")
    assert kept.rstrip().endswith("print(f(2))")


def test_a_self_check_the_implementer_adds_is_dropped_but_used_asserting_code_stays():
    # seen on HumanEval 42: `check_solution()` was merged, never ran, and its uncovered
    # lines dropped coverage below the base: the tests check blocked a correct change
    from shipyard.graphs.trim import without_tests

    code = ("def incr(xs):\n    return [x + 1 for x in xs]\n\n\n"
            "def check_solution():\n    assert incr([1]) == [2]\n    print('ok')\n\n\n"
            "def _valid(x):\n    assert x >= 0\n    return x\n\n\n"
            "def root(x):\n    return _valid(x) ** 0.5\n\n\n"
            "check_solution()\nif __name__ == '__main__':\n    check_solution()\n")
    kept = without_tests(code)
    assert "check_solution" not in kept.split("if __name__")[0]
    assert "def _valid(x):" in kept and "def root(x):" in kept  # an assert in used code stays
    # a name the request gives, or one the file already defines, is never dropped
    assert "def check_solution" in without_tests(code, frozenset({"check_solution"}))


def test_while_a_documented_example_fails_the_next_attempt_hears_only_of_documented_ones():
    from shipyard.graphs.probing import case_feedback as _case_feedback
    from shipyard.runtime.probe import CaseResult, Probe

    def case(call, source, ok):
        return CaseResult(call=call, expected="1", source=source, ok=ok, got="0")

    probe = Probe(results=(case("f(1)", "proposed", False), case("f(2)", "docstring", False),
                           case("f(3)", "request", True)))
    assert _case_feedback(probe) == ["f(2) returned 0, expected 1 (off by one)"]
    probe = Probe(results=(case("f(1)", "proposed", False), case("f(2)", "docstring", True)))
    assert _case_feedback(probe) == ["f(1) returned 0, expected 1 (off by one)"]


def test_cases_for_functions_the_request_does_not_name_are_dropped(make_repo, cli, replies):
    # seen on `make demo`: asked about slugify, the Test Engineer tested truncate and mean
    replies["test.plan"] = [{"strategy": "s", "cases": [
        {"call": "add(1, 2)", "expected": "3"}, {"call": "multiply(3, 4)", "expected": "12"}]}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo)
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    calls = [c["call"] for c in _events(repo, "acceptance_cases")[0]["cases"]]
    assert calls == ["multiply(3, 4)"]


def test_the_first_two_attempts_are_greedy_answers_to_two_different_prompts(
        make_repo, cli, replies):
    # HumanEval 0-49, greedy: the stub alone 38/50, the task prompt 35/50, each right where
    # the other was wrong on several problems: two prompts, two good different answers
    wrong = MULTIPLY_EDIT.replace("a * b", "a + b")
    replies["implementer.implement"] = [{"raw": wrong}, {"raw": wrong}, {"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper to calc/core.py: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    calls = [(json.loads(m)[-1]["content"], json.loads(p)["temperature"]) for (m, p) in
             _db(repo).execute("select messages, params from llm_calls "
                               "where agent='implementer' order by seq")]
    assert [t for _, t in calls] == [0.0, 0.0, 0.8, 0.8]   # the last, a second opinion
    plain, task = calls[0][0], calls[1][0]
    assert plain.rstrip().endswith("```") and "def multiply(a, b)" in plain
    assert "Feature request" not in plain and "Feature request" in task   # the stub alone
    assert "multiply(2, 3) returns 6" in plain                # its docstring carries the request


def test_a_second_round_samples_instead_of_repeating_the_greedy_attempt(
        make_repo, cli, replies):
    # the same prompt at temperature 0 gives the same wrong answer: round 2 starts sampling
    wrong = MULTIPLY_EDIT.replace("a * b", "a + b")
    replies["implementer.implement"] = [{"raw": wrong}]
    repo = make_repo(human=["G6"], max_fix_rounds=1)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert r["status"] == "failed"
    temps = [json.loads(p)["temperature"] for (p,) in _db(repo).execute(
        "select params from llm_calls where agent='implementer' order by seq")]
    assert len(temps) == 16 and temps.count(0.0) == 2 and temps[:2] == [0.0, 0.0]


# -- confirmation: the documented examples alone do not decide -----------------------------
def test_the_documented_examples_alone_merge_only_once_a_second_sample_agrees(
        make_repo, cli, replies):
    # HumanEval 65: the examples could not tell a left shift from a right one, and the first
    # code that passed them merged wrong; now a second, independent sample must agree
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    # the second opinion: the other prompt's greedy answer, not a sample of the first's
    assert [a["temperature"] for a in _events(repo, "inner_attempt")] == [0.0, 0.0]


def test_samples_that_pass_the_examples_but_differ_near_them_go_to_the_majority(
        make_repo, cli, replies):
    # `a + b` passes multiply(2, 2) == 4 as well as `a * b` does; on multiply(3, 2) they part
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    plus = MULTIPLY_EDIT.replace("a * b", "a + b")
    replies["implementer.implement"] = [{"raw": plus}, {"raw": MULTIPLY_EDIT},
                                        {"raw": MULTIPLY_EDIT.replace("a * b", "b * a")}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 2) returns 4")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [split] = _events(repo, "candidates_disagree")
    assert split["attempts"] == [0, 1] and split["groups"] == 2
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert "return a * b" in code.split("def multiply")[1]


def test_two_agreeing_samples_do_not_outvote_two_others_that_part(make_repo, cli, replies):
    # `a + b`, `a ** b` and `a * b` all pass multiply(2, 2) == 4 and part near it: two
    # samples of `a * b` against one of each other is no majority of the samples; a third
    # `a * b` is
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    plus = MULTIPLY_EDIT.replace("a * b", "a + b")
    power = MULTIPLY_EDIT.replace("a * b", "a ** b")
    replies["implementer.implement"] = [{"raw": plus}, {"raw": power}, {"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 2) returns 4")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [agree] = _events(repo, "candidates_agree")
    assert agree["attempts"] == [2, 3, 4] and agree["of"] == 5
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert "return a * b" in code.split("def multiply")[1]


def test_an_input_a_candidate_returns_none_on_is_outside_the_comparison(
        make_repo, cli, replies):
    # HumanEval 59 ("assume n > 1 and is not a prime"): right samples agreed on every input
    # in the domain and parted on the primes near it, returning None, 1 or -1, so nothing
    # merged. Returning None where no case expects None is not an answer, as raising is not
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    partial = MULTIPLY_EDIT.replace("    return a * b",
                                    "    if a == 3:\n        return None\n    return a * b")
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}, {"raw": partial}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [agree] = _events(repo, "candidates_agree")
    assert agree["attempts"] == [0, 1]
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert "return None" not in code   # of those agreeing, the one that answers everywhere


def test_a_candidate_that_answers_only_the_examples_cannot_make_another_agree(
        make_repo, cli, replies):
    # An input any voter rejects leaves the comparison, so code that passes the documented
    # example and answers nothing else (a lookup of the example) emptied it, and `a + b`
    # "agreed" with it and merged. Such a voter now sits out: it vetoes no input
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    plus = MULTIPLY_EDIT.replace("a * b", "a + b")
    lookup = MULTIPLY_EDIT.replace("    return a * b",
                                   "    if (a, b) == (2, 2):\n        return 4\n    return None")
    replies["implementer.implement"] = [{"raw": code} for code in (
        plus, lookup, MULTIPLY_EDIT, MULTIPLY_EDIT, MULTIPLY_EDIT)]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 2) returns 4")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert "return a * b" in code.split("def multiply")[1]
    assert [1] in [e["attempts"] for e in _events(repo, "candidates_silent")]
    [agree] = _events(repo, "candidates_agree")
    assert 1 not in agree["attempts"] and 0 not in agree["attempts"]


def test_two_candidates_that_each_answer_only_where_the_other_refuses_never_agree(
        make_repo, cli, replies):
    # every input near multiply(2, 2) changes a or b: one candidate refuses the first half,
    # the other the second, and between them no input is left to compare
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    only_a = MULTIPLY_EDIT.replace("    return a * b",
                                   "    if b != 2:\n        raise ValueError(b)\n    return a + b")
    only_b = MULTIPLY_EDIT.replace("    return a * b",
                                   "    if a != 2:\n        raise ValueError(a)\n    return a * b")
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    replies["implementer.implement"] = [{"raw": code} for code in (only_a, only_b,
                                                                     *[broken] * 20)]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 2) returns 4")
    assert r["status"] == "failed", r
    assert {e["inputs"] for e in _events(repo, "candidates_disagree")} == {0}
    assert not _events(repo, "candidates_agree") and not _events(repo, "candidates_silent")
    assert git(repo, "log", "--oneline", "main").count("\n") == 1   # nothing merged


def _pair_against_a_third(make_repo, cli, replies, *, then: list[str], **settings):
    """A run whose two greedy answers fail the example, whose first sample (`a + b`) passes
    it, and whose next two (`a * b`) agree against that one; `then` are the replies after."""
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    plus = MULTIPLY_EDIT.replace("a * b", "a + b")
    replies["implementer.implement"] = [{"raw": code} for code in (
        broken, broken, plus, MULTIPLY_EDIT, MULTIPLY_EDIT, *then)]
    repo = make_repo(human=["G6"], **settings)
    return repo, _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 2) returns 4")


def test_two_samples_agreeing_against_a_third_wait_for_another_to_join_them(
        make_repo, cli, replies):
    # HumanEval 75 and 91: with both greedy answers wrong, two samples agreed against a third
    # that parted from them, and merged wrong. Such a pair waits; a third sample joining it
    # makes a group that is taken
    repo, r = _pair_against_a_third(make_repo, cli, replies, then=[MULTIPLY_EDIT])
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [waited] = [e for e in _events(repo, "candidates_disagree") if "pair" in e]
    assert waited["pair"] == [3, 4] and waited["attempts"] == [2, 3, 4]
    [agree] = _events(repo, "candidates_agree")
    assert agree["attempts"] == [3, 4, 5] and agree["of"] == 4
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert "return a * b" in code.split("def multiply")[1]


def test_a_pair_of_samples_a_third_parts_from_never_merges_and_the_human_is_told_why(
        make_repo, cli, replies):
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    repo, r = _pair_against_a_third(make_repo, cli, replies, then=[broken] * 20,
                                    max_fix_rounds=0)
    assert r["status"] == "failed", r
    assert "3 attempts pass every documented example but do not agree" in r["reason"]
    assert not _events(repo, "candidates_agree")
    assert git(repo, "log", "--oneline", "main").count("\n") == 1   # nothing merged


def test_samples_that_parted_in_an_earlier_round_still_vote(make_repo, cli, replies):
    # HumanEval 65 (2026-12-05): round 0's two samples parted near the examples and nothing
    # was taken; round 1's first two agreed with each other, and merged wrong. They now
    # count against round 1's pair until it is more than both together
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    plus = MULTIPLY_EDIT.replace("a * b", "a + b")
    power = MULTIPLY_EDIT.replace("a * b", "a ** b")
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    replies["implementer.implement"] = [{"raw": plus}, {"raw": power},
                                        *[{"raw": broken}] * 8, {"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 2) returns 4")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    rounds = [e["round"] for e in _events(repo, "g5_decision")]
    assert rounds == [0, 1]
    [agree] = _events(repo, "candidates_agree")
    assert agree["attempts"] == [0, 1, 2] and agree["of"] == 5   # plus round 0's -1 and -2
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert "return a * b" in code.split("def multiply")[1]


def test_a_candidate_passing_every_case_still_waits_for_a_second_sample_to_agree(
        make_repo, cli, replies):
    # HumanEval 75 and 99: the first code passed the documented examples and every proposed
    # case, right cases but too few, and merged wrong. `a ** b` passes all three cases here;
    # two samples of `a * b` outvote it on multiply(3, 2)
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 1)", "expected": "3"}]}]
    power = MULTIPLY_EDIT.replace("a * b", "a ** b")
    replies["implementer.implement"] = [{"raw": power}, {"raw": MULTIPLY_EDIT},
                                        {"raw": MULTIPLY_EDIT.replace("a * b", "b * a")}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 2) returns 4")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    assert all(a["passed"] for a in _events(repo, "inner_attempt"))   # all three pass the cases
    [agree] = _events(repo, "candidates_agree")
    assert agree["attempts"] == [1, 2] and agree["of"] == 3
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert "a * b" in code.split("def multiply")[1]


def test_the_greedy_answer_and_a_sample_of_its_own_prompt_wait_for_another_prompt(
        make_repo, cli, replies):
    # HumanEval 74 and 75: the greedy answer and a sample of the same prompt agreed, both
    # wrong (a sample mostly repeats the greedy answer). Attempts alternate between the
    # plain prompt (even) and the task prompt (odd); the pair [0, 2] is one prompt's, and
    # only attempt 3, the task prompt's answer, makes it a group of two prompts
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}, {"raw": broken},
                                        {"raw": MULTIPLY_EDIT}, {"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [one] = _events(repo, "candidates_agree_one_prompt")
    assert one["attempts"] == [0, 2] and one["taken"] is False
    [agree] = _events(repo, "candidates_agree")
    assert agree["attempts"] == [0, 2, 3]
    # the second opinion on a greedy answer is the other prompt's greedy answer
    assert [a["temperature"] for a in _events(repo, "inner_attempt")] == [0.0, 0.0, 0.8, 0.8]


def test_a_pair_of_one_prompts_answers_alone_never_merges_and_the_human_is_told_why(
        make_repo, cli, replies):
    # the greedy answer to the plain prompt and one sample of it agree; every other answer
    # is broken: nothing confirms the pair, so nothing merges (HumanEval 74 and 75 merged
    # wrong on such pairs)
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}, {"raw": broken},
                                        {"raw": MULTIPLY_EDIT}] + [{"raw": broken}] * 20
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert r["status"] == "failed", r
    assert "no answer to another prompt confirmed them" in r["reason"]
    assert {e["taken"] for e in _events(repo, "candidates_agree_one_prompt")} == {False}
    assert not _events(repo, "candidates_agree")
    assert len(git(repo, "log", "--oneline", "main").splitlines()) == 1   # its first commit


def test_three_answers_of_one_prompt_that_agree_merge_once_the_attempts_are_spent(
        make_repo, cli, replies):
    # every answer to the plain prompt agrees, every answer to the task prompt is broken
    # (HumanEval 6 and 88, where the raw model is right): the greedy answer and its samples
    # wait for the other prompt all round, and are taken at its end, not a round later
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}, {"raw": broken}] * 20
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    *waiting, last = _events(repo, "candidates_agree_one_prompt")
    assert waiting and {e["taken"] for e in waiting} == {False}
    assert last["taken"] is True and len(last["attempts"]) >= 3
    assert [e["round"] for e in _events(repo, "g5_decision")] == [0]
    code = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert "return a * b" in code.split("def multiply")[1]


def test_with_no_second_sample_in_the_wait_a_confirmed_candidate_is_taken_alone(
        make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 1)", "expected": "3"}]}]
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}, {"raw": broken}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 2) returns 4")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    assert [a["passed"] for a in _events(repo, "inner_attempt")] == [True, False, False]
    assert _events(repo, "candidate_alone") == [
        {"attempt": 0, "corroborated": True, "temperature": 0.0, "taken": True}]


def test_a_sample_that_alone_passes_the_examples_is_not_merged(make_repo, cli, replies):
    # HumanEval 91 (2026-12-03): of ten attempts one, a sample at temperature 1.0, passed the
    # documented examples; taken alone, it was wrong elsewhere. Greedy answers alone were
    # right 3 times in 4, lone samples 2 in 4: a lone sample is not taken
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    replies["implementer.implement"] = [{"raw": broken}, {"raw": broken},
                                        {"raw": MULTIPLY_EDIT}, {"raw": broken}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert r["status"] == "failed", r
    passed = [a["attempt"] for a in _events(repo, "inner_attempt") if a["passed"]]
    assert passed == [2]
    assert _events(repo, "candidate_alone") == [
        {"attempt": 2, "corroborated": False, "temperature": 0.8, "taken": False}]
    [decision] = _events(repo, "g5_decision")
    assert "a sample at temperature 0.8" in decision["reasons"][0]
    assert "no second sample agreed" in r["reason"]
    assert git(repo, "log", "--oneline", "main").count("\n") == 1   # nothing merged


def test_a_lone_sample_a_proposed_case_confirms_is_refused_once_not_at_every_attempt(
        make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(3, 1)", "expected": "3"}]}]
    broken = MULTIPLY_EDIT.replace("a * b", "a - b")
    replies["implementer.implement"] = [{"raw": broken}, {"raw": broken},
                                        {"raw": MULTIPLY_EDIT}, {"raw": broken}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert r["status"] == "failed", r
    assert _events(repo, "candidate_alone") == [
        {"attempt": 2, "corroborated": True, "temperature": 0.8, "taken": False}]


def test_samples_that_never_agree_leave_the_change_unmerged(make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    replies["implementer.implement"] = [
        {"raw": MULTIPLY_EDIT.replace("a * b", f"a * b + (a - 2) * {k}")} for k in range(12)]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 2) returns 4")
    assert r["status"] == "failed", r
    assert git(repo, "log", "--oneline", "main").count("\n") == 1   # nothing merged


def test_a_proposed_call_the_signature_does_not_accept_is_dropped_at_g3(
        make_repo, cli, replies):
    # HumanEval 65: `circular_shift(12)` for `circular_shift(x, shift)`; every candidate raised
    # TypeError on it, and that agreement counted as a second opinion
    replies["test.plan"] = [{"strategy": "s", "cases": [
        {"call": "multiply(3)", "expected": "3"}, {"call": "multiply(3, 4)", "expected": "12"},
        {"call": "multiply(3, 4, 5)", "expected": "60"}]}]
    repo = make_repo(human=["G6"])
    (repo / "calc" / "core.py").write_text(CALC_CORE + '\n\ndef multiply(a: int, b: int) -> int:'
                                           '\n    """Return a * b."""\n'
                                           '    raise NotImplementedError\n')
    git(repo, "commit", "-qam", "multiply stub")
    r = _start(cli, repo, "Implement multiply(a, b) in calc/core.py as its docstring says")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [dropped] = _events(repo, "acceptance_case_dropped")
    assert dropped["calls"] == ["multiply(3)", "multiply(3, 4, 5)"]
    test = git(repo, "show", f"shipyard/{r['run_id']}:tests/test_multiply_acceptance.py")
    assert "multiply(3, 4)" in test and "multiply(3)" not in test
    [(plan,)] = _db(repo).execute("select messages from llm_calls where task='plan' "
                                  "and agent='test'").fetchall()
    assert "one call of multiply(a: int, b: int)" in " ".join(plan.split())  # told the arity


def test_a_proposed_argument_no_implementation_could_take_does_not_fit():
    # HumanEval 1 (2026-12-03): the Test Engineer wrote `separate_paren_groups(( ) (( )))`,
    # unquoted — a call of a tuple — and every candidate failed it the same way
    from shipyard.graphs.fitting import fits, signatures

    sigs = signatures({"m.py": "def groups(s: str) -> List[str]: ...\n"
                               "def mean(xs: List[float], w: float = 1.0): ...\n"
                               "def any_(x): ...\n"}, {"groups", "mean", "any_"})
    assert not fits("groups(( ) (( )))", sigs)        # calls a tuple: raises for everyone
    assert not fits("groups(( ) (( )) (( )( )))", sigs)  # a call of that call: the same
    assert not fits("groups(((())))", sigs)           # an empty tuple for a str
    assert fits("groups('(()) ()')", sigs)
    assert fits("mean([1, 2.5], 2)", sigs)            # an int is a fine float
    assert not fits("mean((1, 2))", sigs)             # a tuple for a List
    assert fits("groups(text)", sigs) and fits("any_(())", sigs)  # code cannot tell: kept


def test_an_argument_of_another_kind_than_every_documented_one_does_not_fit():
    # HumanEval 75 (no annotation): `",30"` became is_multiply_prime(',30'), a string for a
    # function every example calls with a number; four samples raised TypeError on it
    from shipyard.graphs.fitting import argument_kinds, like_documented

    kinds = argument_kinds(["prime(30)", "pair([1, 2], 'a')", "pair((3,), None)"])
    assert not like_documented("prime(',30')", kinds)
    assert like_documented("prime(7.5)", kinds) and like_documented("prime(None)", kinds)
    assert like_documented("pair([], 'b')", kinds) and like_documented("pair([], 3)", kinds)
    assert not like_documented("pair('x', 'b')", kinds)     # lists and tuples, never a str
    assert like_documented("other('x')", kinds) and like_documented("prime(n)", kinds)


def test_without_an_example_a_case_whose_argument_no_other_case_passes_is_dropped(
        make_repo, cli, replies):
    # is_even(n), "True when the integer n is even" (features benchmark, 2026-12-07): the
    # Test Engineer added is_even('4') == True among five numbers, every sample raised
    # TypeError on it, and asked again it upheld it: the run ended blocked
    from shipyard.graphs.fitting import odd_ones

    assert odd_ones(["e(4)", "e(5)", "e(1.5)", "e('4')"]) == {"e('4')"}
    assert odd_ones(["e(4)", "e(5)", "e('4')"]) == set()       # two others are too few
    assert odd_ones(["e(4)", "e('x')", "e(5)", "e('y')"]) == set()   # the cases mix kinds
    repo, r = _without_an_example(
        make_repo, cli, replies, [("multiply(2, 3)", "6"), ("multiply(0, 5)", "0"),
                                  ("multiply(-1, 4)", "-4"), ("multiply('2', 3)", "6")],
        [MULTIPLY_EDIT], answers=("6",))
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    [dropped] = _events(repo, "acceptance_case_dropped")
    assert dropped["calls"] == ["multiply('2', 3)"]


def test_variant_inputs_keep_each_arguments_type_and_stay_near_it():
    from shipyard.graphs.variants import LIMIT, variants

    near = variants(["circular_shift(12, 1)", 'vowels_count("abcde")', "f(x=[1, 2])",
                     "g(*args)", "h(len)"])
    assert "circular_shift(12, 1)" not in near and "circular_shift(13, 1)" in near
    assert "circular_shift(121, 1)" in near                  # one digit more
    assert "vowels_count('edcba')" in near                   # the same characters
    assert "f(x=[2, 1])" in near
    near_dict = variants(['check_dict_case({"a": 1, "B": 2})'])
    assert "check_dict_case({'B': 2, 'a': 1})" in near_dict  # a dict's items reordered
    assert "check_dict_case({'a': 1})" in near_dict          # or one fewer
    assert not any(v.startswith(("g(", "h(")) for v in near)  # nothing code cannot read
    assert len(variants([f"k({i})" for i in range(40)])) == LIMIT
    # a repeat one apart, not side by side (HumanEval 80, `is_happy`)
    assert "is_happy('yxy')" in variants(["is_happy('xyy')"])


def test_a_string_of_words_is_varied_word_by_word_before_letter_by_letter():
    # HumanEval 19: letter-level variants of 'three one five' spell no number word, every
    # sample raised on them, and none could vote
    from shipyard.graphs.variants import variants

    words = {"three", "one", "five"}
    near = variants(["sort_numbers('three one five')"])
    assert "sort_numbers('five one three')" in near
    first = [set(v[len("sort_numbers('"):-2].split()) for v in near[:5]]
    assert all(w <= words for w in first)                     # real words, fewer or moved
    assert "sort_numbers('evif eno eerht')" in near           # letters later, still tried
    assert all(" " not in v for v in variants(["f('abc')"]))  # one word: letters only


def test_a_lone_int_example_is_also_varied_to_the_small_ints_of_its_sign():
    # HumanEval 75: from `is_multiply_prime(30)` alone, 29, 31, 33 and 301 could not part
    # "three primes" from "three distinct primes", and two samples of the second merged
    # wrong; 8 = 2 * 2 * 2 parts them
    from shipyard.graphs.variants import variants

    assert "is_multiply_prime(8)" in variants(["is_multiply_prime(30)"])
    assert all(v in variants(["f(-30)"]) for v in ("f(-60)", "f(-15)", "f(-8)"))
    assert not any(v.startswith("f(-") for v in variants(["f(30)"]))   # the sign is kept
    # many cases: each is varied near its own value before any is spread
    cases = range(100, 900, 100)
    near = [int(v[2:-1]) for v in variants([f"k({i})" for i in cases])]
    assert len(near) == 24 and all(min(abs(v - c) for c in cases) <= 3 for v in near)


# -- documented examples in the forms docs write them -----------------------------------------
def _doc_cases(doc: str, params: list[str] | None = None, name: str = "f") -> list[tuple]:
    return [(e.call, e.expected) for e in extract_examples(
        doc, {name}, source="docstring", params={name: params} if params else None)]


def test_prose_examples_of_a_one_argument_function_become_cases():
    doc = ('For num = "AB" the output should be 1.\n'
           "For N = 1000, the sum of digits will be 1 the output should be \"1\".\n"
           "Example 1:\n    Input: [4,2,3]\n    Output: [2, 1]\n"
           "    Explanation: 2 is the smallest even value.\n"
           "Example 2:\n    Input: num = []\n    Output: []\n")
    assert _doc_cases(doc, ["num"]) == [('f("AB")', "1"), ("f([4,2,3])", "[2, 1]"),
                                        ("f([])", "[]")]
    # `num = []` names another parameter: not an input of this function
    assert _doc_cases(doc, ["N"]) == [("f(1000)", '"1"'), ("f([4,2,3])", "[2, 1]")]
    assert _doc_cases(doc, ["a", "b"]) == []        # two arguments: which one is "Input"?
    assert _doc_cases(doc) == []                    # no signature known: no prose cases


def test_a_comment_saying_returns_and_json_booleans_state_results():
    doc = 'f(15)   # returns "db1111db"\nf(1, 4) => true\nf(3, 2) => false\n'
    assert _doc_cases(doc) == [("f(15)", '"db1111db"'), ("f(1, 4)", "True"),
                               ("f(3, 2)", "False")]


def test_bare_words_as_arguments_are_the_strings_they_spell():
    # HumanEval 80 writes `is_happy(aa) => False`: as written, every candidate raises NameError
    # a name the prose defined cannot run as written: no case
    assert _doc_cases("f(aa) => False\nf(len) => 3\nf(x, 1) => 2\n") == [
        ("f('aa')", "False"), ("f(len)", "3")]


def test_a_name_the_doctests_bind_is_no_bare_word_to_quote():
    # more-itertools: `>>> n = 9` then `>>> totient(n)` / `6` was read as totient('n') == 6,
    # which every right implementation fails (four such in its docstrings)
    doc = ">>> n = 9\n>>> f(n)\n6\n>>> f(aa)\nFalse\n>>> f(9)\n6\n"
    assert _doc_cases(doc) == [("f('aa')", "False"), ("f(9)", "6")]


def test_an_example_whose_argument_spans_lines_is_read_whole():
    doc = ("get_row([\n  [1,2,3],\n  [1,2,1]\n], 1) == [(0, 0), (1, 2), (1, 0)]\n"
           "get_row([], 1) == []\n")
    assert _doc_cases(doc, name="get_row") == [
        ("get_row([ [1,2,3], [1,2,1] ], 1)", "[(0, 0), (1, 2), (1, 0)]"),
        ("get_row([], 1)", "[]")]


def test_an_example_whose_sentence_wraps_after_the_call_is_still_read():
    # HumanEval 99: the one tie case rounding up was lost to the line break, and code that
    # rounded 14.5 to 14 merged
    doc = ('from zero. For example closest_integer("14.5") should\n'
           'return 15 and closest_integer("-14.5") should return -15.\n'
           "closest_integer('2')\nis the same as int('2').\n")
    assert _doc_cases(doc, name="closest_integer") == [
        ('closest_integer("14.5")', "15"), ('closest_integer("-14.5")', "-15")]


def test_a_proposed_copy_of_a_documented_example_is_no_confirmation(make_repo, cli, replies):
    # HumanEval 91: the Test Engineer restated the docstring's is_bored("Hello world") as
    # is_bored('Hello world'); counted as its own case, it confirmed wrong code
    replies["test.plan"] = [{"strategy": "examples", "cases": [
        {"call": "multiply(2,3)", "expected": "6"}]}]
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    calls = [c["call"] for c in _events(repo, "acceptance_cases")[0]["cases"]]
    assert calls == ["multiply(2, 3)"]                        # one case, the documented one
    assert len(_events(repo, "inner_attempt")) == 2           # a second sample had to agree


def test_a_docstring_example_calling_the_function_by_its_old_name_is_the_functions():
    # HumanEval 81: `numerical_letter_grade`'s docstring shows `grade_equation([4.0, 3]) ==>`
    doc = "Grades.\n    Example:\n    grade_equation([4.0, 3]) ==> ['A+', 'B']\n"
    assert extract_examples(renamed(doc, "numerical_letter_grade", set()),
                            {"numerical_letter_grade"}, source="docstring") == [
        Example(call="numerical_letter_grade([4.0, 3])", expected="['A+', 'B']",
                source="docstring")]
    # a helper the repository defines is another function, not an old name
    assert renamed(doc, "numerical_letter_grade", {"grade_equation"}) == doc


def test_an_old_names_example_of_another_arity_is_not_a_case(make_repo, cli, replies):
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    repo = make_repo(human=["G6"])
    (repo / "calc" / "core.py").write_text(
        CALC_CORE + '\n\ndef multiply(a: int, b: int) -> int:\n    """Return a * b.\n\n'
        '    times(2, 3) ==> 6\n    times(2) ==> 2\n    """\n    raise NotImplementedError\n')
    git(repo, "commit", "-qam", "multiply stub")
    r = _start(cli, repo, "Implement multiply(a, b) in calc/core.py as its docstring says")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    cases = _events(repo, "acceptance_cases")[0]["cases"]
    assert [(c["call"], c["source"]) for c in cases if c["source"] == "docstring"] == [
        ("multiply(2, 3)", "docstring")]



def test_a_number_proposed_where_every_documented_result_is_a_string_is_that_string(
        make_repo, cli, replies):
    # HumanEval 84: `"expected": "1"` for solve(1), whose examples return "1", "110", "1100",
    # read as the int 1; asked again five times it was upheld against every correct sample
    replies["test.plan"] = [{"strategy": "s", "cases": [
        {"call": "to_binary(1)", "expected": "1"}, {"call": "to_binary(4)", "expected": "4"}]}]
    replies["implementer.implement"] = [{"raw": 'FILE: calc/core.py\n```python\n'
                                                'def to_binary(n: int) -> str:\n'
                                                '    """Binary digits."""\n'
                                                '    return bin(n)[2:]\n```\n'}]
    replies["test.answer"] = [{"expected": "100"}]
    repo = make_repo(human=["G6"])
    (repo / "calc" / "core.py").write_text(
        CALC_CORE + '\n\ndef to_binary(n: int) -> str:\n    """Binary digits.\n\n'
        '    to_binary(2) == "10"\n    to_binary(3) == "11"\n    """\n'
        '    raise NotImplementedError\n')
    git(repo, "commit", "-qam", "to_binary stub")
    r = _start(cli, repo, "Implement to_binary(n) in calc/core.py as its docstring says")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    proposed = [(c["call"], c["expected"]) for c in _events(repo, "acceptance_cases")[0]["cases"]
                if c["source"] == "proposed"]
    assert proposed == [("to_binary(1)", "'1'"), ("to_binary(4)", "'4'")]
    # the wrong one, disputed, is asked again, and the answer too is read as a string
    [asked] = _events(repo, "acceptance_case_reasked")
    assert (asked["call"], asked["answers"]) == ("to_binary(4)", ["'100'"])
    [d] = _events(repo, "acceptance_case_disputed")
    assert d["call"] == "to_binary(4)"



def test_an_example_repeating_a_dict_key_is_tested_as_python_reads_it_and_lints_clean(
        make_repo, cli, replies):
    # HumanEval 95's docstring has `{"a":"apple", 8:"banana", "a":"apple"}`: copied verbatim
    # into shipyard's own test file, ruff's F601 blocked every fix round of a right change
    replies["test.plan"] = [{"strategy": "examples", "cases": []}]
    edit = MULTIPLY_EDIT.replace("def multiply(a: int, b: int) -> int:", "def count_keys(d):")
    edit = edit.replace('"""Return a * b."""', '"""How many keys d has."""')
    replies["implementer.implement"] = [{"raw": edit.replace("a * b", "len(d)")}] * 2
    repo = make_repo(human=["G6"])
    r = _start(cli, repo, 'Add a count_keys(d) helper: count_keys({"a": 1, 8: 2, "a": 1}) '
                          "returns 2")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    lint = [row["status"] for row in _db(repo).execute(
        "select status from tool_runs where name='lint' and gate='G5' order by seq")]
    assert lint == ["pass"]
    test = git(repo, "show", f"shipyard/{r['run_id']}:tests/test_count_keys_acceptance.py")
    assert 'count_keys({"a": 1, 8: 2})' in test.replace("'", '"')   # the value Python reads

# -- a block no fix round can lift ---------------------------------------------------------
def _coverage_check() -> dict:
    return {"name": "tests", "blocking": True, "status": "fail", "findings": [
        {"rule": "tests.coverage-drop", "path": "calc/core.py", "line": 9,
         "message": "coverage dropped from 100.0% to 80.0% (policy allows 2.0 points)"}]}


def test_uncovered_code_with_no_case_left_to_cover_it_is_not_sent_back_to_the_implementer():
    from shipyard.graphs.review import uncoverable

    approved = {"security": {"verdict": "approve"}, "test": {"verdict": "approve"}}
    none_left = {"cases": [{"call": "f(1)", "expected": "2", "source": "proposed"}],
                 "disputed": [{"call": "f(1)", "expected": "2", "source": "proposed"}]}
    why = uncoverable([_coverage_check()], approved, [], none_left)
    assert why and "calc/core.py:9" in why and "add an example to the request" in why
    # anything a fix round could change keeps the rounds going
    assert uncoverable([_coverage_check()], approved, [], {"cases": none_left["cases"],
                                                          "disputed": []}) is None
    lint = {"name": "lint", "blocking": True, "status": "fail",
            "findings": [{"rule": "lint.F821", "path": "calc/core.py", "line": 9,
                          "message": "Undefined name `x`"}]}
    assert uncoverable([_coverage_check(), lint], approved, [], none_left) is None
    blocked = {**approved, "security": {"verdict": "block", "summary": "unsafe", "findings": []}}
    assert uncoverable([_coverage_check()], blocked, [], none_left) is None
    assert uncoverable([_coverage_check()], {"security": {"verdict": "approve"}}, [],
                       none_left) is None                        # the dual review is missing


def test_a_change_no_test_can_cover_fails_at_once_naming_the_fix(make_repo, cli, replies):
    # HumanEval 38: no documented example, no usable proposed case; the coverage check
    # blocked the untested code, and two fix rounds sent the same finding back
    replies["test.plan"] = [{"strategy": "s", "cases": [{"call": "add(1, 2)", "expected": "3"}]}]
    repo = make_repo(human=["G6"], max_fix_rounds=2)
    r = _start(cli, repo)
    assert r["status"] == "failed", r
    assert "covered by no test" in r["reason"] and "add an example to the request" in r["reason"]
    assert len(_events(repo, "g5_decision")) == 1                  # no fix round was spent
    assert "multiply" in git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")


def _new_file_diff(path: str, text: str) -> str:
    lines = text.splitlines()
    return (f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
            f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{x}\n" for x in lines))


def test_reviewers_read_the_cases_not_the_comparison_code_shipyard_writes_every_run():
    """A third of each review prompt was shipyard's own fixed helpers (~550 tokens)."""
    from shipyard.agents.examples import render_tests
    from shipyard.graphs.nodes_base import without_fixed_part

    path = "tests/test_sub_acceptance.py"
    tests = render_tests("sub", {"sub": "m"}, [Example(call="sub(5, 3)", expected="2",
                                                       source="docstring")])
    code = ("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n"
            " def sub(a, b):\n-    raise NotImplementedError\n+    return a - b\n")
    shown = without_fixed_part(code + _new_file_diff(path, tests), path)
    assert "sub(5, 3)" in shown and "return a - b" in shown       # the change and the cases
    assert "_as_data" not in shown and "def test_acceptance" not in shown
    total = len(tests.splitlines())
    cases = tests.splitlines().index("]") + 1
    assert f"@@ -0,0 +1,{cases + 2} @@ lines {cases + 3}-{total} not shown" in shown
    assert parse_diff(shown).hunks[path] == [(1, cases + 2)]    # findings ground on shown lines
    assert without_fixed_part(code, path) == code                   # no test file: unchanged


def test_a_case_cannot_hide_lines_from_the_reviewers_by_quoting_the_fixed_part():
    from shipyard.agents.examples import FIXED_PART
    from shipyard.graphs.nodes_base import without_fixed_part

    path = "tests/test_f_acceptance.py"
    text = f"CASES = [\n{FIXED_PART}\nimport os; os.system('x')\n]\n"
    diff = _new_file_diff(path, text)
    assert without_fixed_part(diff, path) == diff


def test_a_package_importing_a_file_its_build_writes_stops_g5_until_built(
        make_repo, cli, replies):
    from shipyard.graphs.probing import build_outputs

    # hatch-vcs writes src/humanize/_version.py at build time; git ignores it. Without it no
    # candidate can be imported, and sixteen attempts once "failed" on ModuleNotFoundError
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT}]
    # the calc fixture's build would not write the file, as hatch-vcs does: its tests are
    # not run here, only the inner loop's cases
    repo = make_repo(human=["G6"], checks=["lint", "sast", "secrets"])
    (repo / "calc" / "__init__.py").write_text('"""calc."""\nfrom ._version import version\n')
    (repo / ".gitignore").write_text("_version.py\nsettings_local.py\n")
    with (repo / "pyproject.toml").open("a") as toml:      # as hatch-vcs is configured
        toml.write('\n[tool.hatch.build.hooks.vcs]\nversion-file = "calc/_version.py"\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "version from the build")
    r = _start(cli, repo, "Add a multiply(a, b) helper: multiply(2, 3) returns 6")
    assert r["gate"] == "G2"                     # a check switched off is shown to a human
    _, out, _ = cli("approve", r["run_id"], "--repo", repo, "--as", "carol@example.com",
                    "--json")
    r = json.loads(out.strip().splitlines()[-1])
    assert (r["status"], r["gate"]) == ("failed", "G5"), r
    assert "cannot import calc" in r["reason"] and "pip install -e ." in r["reason"]
    calls = _db(repo).execute("select count(*) from llm_calls where agent='implementer'")
    assert calls.fetchone()[0] == 0                      # no attempt was spent on it

    (repo / "calc" / "_version.py").write_text('version = "0.1.0"\n')   # the user builds
    (repo / "calc" / "settings_local.py").write_text('TOKEN = "s3cret"\n')
    (repo / "_version.py").write_text("")        # named only as part of calc/_version.py
    assert build_outputs(repo) == ("calc/_version.py",)  # not every file git ignores
    _, out, _ = cli("resume", r["run_id"], "--repo", repo, "--json")
    resumed = json.loads(out.strip().splitlines()[-1])
    assert (resumed["status"], resumed["gate"]) == ("waiting", "G6"), resumed
    assert _events(repo, "inner_attempt")[0]["passed"]


def test_cases_import_a_src_layout_package_from_src(tmp_path):
    from shipyard.runtime.probe import probe_cases

    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text("")
    (tmp_path / "src" / "pkg" / "mod.py").write_text("def twice(x):\n    return 2 * x\n")
    probe = probe_cases(tmp_path, [{"call": "twice(2)", "expected": "4", "source": "request",
                                    "imports": {"twice": "pkg.mod"}}],
                        scratch=tmp_path / "scratch", sandbox="off")
    assert [r.ok for r in probe.results] == [True], probe.results


def test_the_acceptance_test_file_meets_the_repositorys_own_lint_rules(tmp_path):
    # python-humanize selects flake8-errmsg and wants csv parametrize names: its lint check
    # blocked a correct change on the test file shipyard wrote, and the Implementer, sent
    # back for lines it cannot change, broke natural_list in the next round
    import subprocess
    import sys

    from shipyard.graphs.acceptance import test_file

    (tmp_path / "pyproject.toml").write_text(
        '[tool.ruff]\nlint.select = ["E", "F", "EM", "PT", "UP", "C4", "PIE"]\n'
        'lint.flake8-pytest-style.parametrize-names-type = "csv"\n')
    acc = {"cases": [{"call": "twice(2)", "expected": "4", "source": "request"}],
           "disputed": [], "imports": {"twice": "pkg.mod"}, "path": "tests/test_acceptance.py"}
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_acceptance.py").write_text(
        test_file(tmp_path, {"feature": "Add twice(x)", "onepager": {"title": "twice"}}, acc))
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-fix", "--no-cache",
                           "tests/test_acceptance.py"], cwd=tmp_path, capture_output=True,
                          text=True, check=False)
    assert lint.returncode == 0, lint.stdout


def test_a_lone_sample_of_an_earlier_round_is_not_called_attempt_zero():
    # seen on python-humanize: "attempt 0, a sample at temperature 0.9, passed every …"
    from shipyard.graphs.agreement import unconfirmed
    from shipyard.graphs.candidate import Candidate
    from shipyard.runtime.probe import CaseResult, Probe

    ok = Probe(results=(CaseResult(call="f(1)", expected="2", source="docstring", ok=True,
                                   got="2"),))
    earlier = Candidate(attempt=-1, files={}, probe=ok, temperature=0.9)
    failed = Candidate(attempt=0, files={}, probe=Probe(results=(), error="boom"))
    said = unconfirmed([earlier, failed])
    assert said.startswith("a sample of an earlier round at temperature 0.9, passed"), said
