"""A failed case's feedback names the difference when code is sure of it (graphs/hints.py):
a 0.5B model shown only `returned '-hi-', expected 'hi'` usually resends the same code."""

from __future__ import annotations

import pytest

from shipyard.graphs.hints import hint


@pytest.mark.parametrize(("got", "expected", "said"), [
    ("'-hello-world-'", "'hello-world'", "extra '-' at the start and extra '-' at the end"),
    ("'hello-world-'", "'hello-world'", "extra '-' at the end"),
    ("'hello--world'", "'hello-world'", "repeated '-' should be one"),
    ("'Hello-World'", "'hello-world'", "the letter case differs"),
    ("[3, 2, 1]", "[1, 2, 3]", "reversed"),
    ("[2, 1, 3]", "[1, 2, 3]", "the right elements in the wrong order"),
    ("[1, 1, 2]", "[1, 2]", "duplicates differ"),
    ("5", "6", "off by one"),
    ("'1'", "1", "returns a str, expected an int"),
])
def test_a_difference_code_is_sure_of_is_named(got, expected, said):
    assert said in hint(got, expected)


@pytest.mark.parametrize(("got", "expected"), [
    ("(1.0, 5.0)", "(2.0, 2.2)"),          # simply a different answer
    ("'abc'", "'xyz'"),
    ("raised ValueError: bad", "3"),       # not a value at all
    ("12", "12"),
])
def test_no_hint_when_there_is_nothing_sure_to_say(got, expected):
    assert hint(got, expected) == ""


def test_the_repair_prompt_carries_the_hint():
    from shipyard.graphs.probing import case_feedback as _case_feedback
    from shipyard.runtime.probe import CaseResult, Probe

    probe = Probe(results=(CaseResult(call="slugify(' Hi! ')", expected="'hi'", got="'-hi-'",
                                      ok=False, source="request"),))
    assert _case_feedback(probe) == [
        ("slugify(' Hi! ') returned '-hi-', expected 'hi' "
         "(extra '-' at the start and extra '-' at the end: remove it)")]
