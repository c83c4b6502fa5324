"""Model-written code that returns an object whose `==` answers True for anything does not
pass an acceptance case: not in G5's probe, not in the pytest file G3 writes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import MULTIPLY_EDIT

from shipyard.agents.examples import Example, render_tests
from shipyard.runtime.probe import probe_cases

ALWAYS_EQUAL = '''
import decimal
import enum


class Yes:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class YesStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class Colour(enum.IntEnum):
    RED = 1


class Metres(float):
    """An honest subclass, as numpy's float64 is one."""


def multiply(a, b):
    return Yes()


def shout(text):
    return YesStr("nothing like it")


def pair(a, b):
    return [Yes(), Yes()]


def red():
    return Colour.RED


def half(x):
    return Metres(x / 2)


def price():
    return decimal.Decimal("1.5")


def evens(n):
    return (i for i in range(0, n, 2))
'''

CASES = [("multiply(3, 4)", "12"), ("shout('a')", "'A'"), ("pair(1, 2)", "[1, 2]"),
         ("red()", "1"), ("half(3)", "1.5"), ("price()", "1.5"), ("evens(3)", "[0, 2]")]


def _module(tmp_path: Path) -> Path:
    (tmp_path / "evil.py").write_text(ALWAYS_EQUAL)
    return tmp_path


def test_the_probe_does_not_take_an_always_equal_object_for_the_expected_value(tmp_path):
    tree = _module(tmp_path)
    cases = [{"call": c, "expected": e, "source": "proposed",
              "imports": {c.split("(")[0]: "evil"}} for c, e in CASES]
    probe = probe_cases(tree, cases, scratch=tmp_path / "scratch", sandbox="off")
    ok = {r.call: r.ok for r in probe.results}
    assert ok == {"multiply(3, 4)": False, "shout('a')": False, "pair(1, 2)": False,
                  # honest subclasses of built-in types and real numbers compare by value
                  "red()": True, "half(3)": True, "price()": True,
                  # a generator is not the list it would make, as `==` says too
                  "evens(3)": False}


def test_the_acceptance_test_file_fails_an_always_equal_object(tmp_path):
    tree = _module(tmp_path)
    examples = [Example(call=c, expected=e, source="proposed") for c, e in CASES]
    text = render_tests("always equal", {c.split("(")[0]: "evil" for c, _ in CASES}, examples)
    (tree / "test_acceptance.py").write_text(text)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "--junitxml", str(tree / "junit.xml"), "test_acceptance.py"],
                   cwd=tree, capture_output=True, text=True, check=False)
    junit = (tree / "junit.xml").read_text()
    assert junit.count("<failure") == 4 and 'tests="7"' in junit


def test_an_implementer_returning_an_always_equal_object_never_reaches_review(
        make_repo, cli, replies):
    cheat = MULTIPLY_EDIT.replace("    return a * b", "    return Yes()").replace(
        "def multiply", "class Yes:\n    def __eq__(self, other):\n        return True\n\n"
                        "    __hash__ = object.__hash__\n\n\ndef multiply")
    replies["implementer.implement"] = [{"raw": cheat}]
    repo = make_repo(human=["G6"], max_fix_rounds=0)
    _, out, _ = cli("run-feature", "Add a multiply(a, b) helper", "--repo", repo, "--json")
    r = json.loads(out.strip().splitlines()[-1])
    assert r["status"] == "failed" and "multiply(3, 4)" in r["reason"], r
    with sqlite3.connect(repo / ".shipyard" / "ledger.db") as db:
        attempts = [json.loads(d) for (d,) in db.execute(
            "select data from events where kind = 'inner_attempt'")]
        reviews = db.execute("select count(*) from llm_calls where task = 'review'").fetchone()
    assert attempts and not any(a["passed"] for a in attempts)
    assert "Yes object" in attempts[0]["results"][0]["got"]
    assert reviews[0] == 0
