"""Regenerate the Test Engineer's plan and answer eval data (issue 7).

    python scripts/build_test_engineer_data.py

Escaped defects on the delivery benchmark come from the Test Engineer's own cases: a
0.5B model that works out an expected value wrongly, the same way the code is wrong, and
merges it. These sets score exactly that: each problem is a stub with a docstring, as a
run's G3 shows it, and a reference implementation written for this suite (not HumanEval:
problems 100-163 stay held out). A plan case is correct when the reference returns its
expected value for its call; an answer is correct when it is the reference's value. The
expected values below are computed here by running the references, never typed in.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "shipyard" / "evals" / "data"
MODULE = "helpers.py"
SOURCE = {"repo": "shipyard", "license": "Apache-2.0", "note": "written for this suite"}

# (name, signature, docstring, body, plan calls, answer calls): each rule of a docstring
# gets an answer call whose input makes the rule change the result
PROBLEMS = [
    ("run_length", "text: str", """Encode runs of the same character as the character followed
    by the run's length. run_length("aaab") == "a3b1". An empty text gives "".""",
     """out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        out.append(f"{text[i]}{j - i}")
        i = j
    return "".join(out)""",
     ['run_length("aaab")', 'run_length("")', 'run_length("abba")'],
     ['run_length("zzzz")', 'run_length("aabcc")']),
    ("count_vowels", "text: str", """Count the vowels a, e, i, o, u in text, in either case;
    y is not a vowel. count_vowels("Hello") == 2.""",
     """return sum(1 for ch in text.lower() if ch in "aeiou")""",
     ['count_vowels("Hello")', 'count_vowels("sky")', 'count_vowels("AEIOU")'],
     ['count_vowels("Yummy")', 'count_vowels("Queue")']),
    ("second_largest", "numbers: list", """The second largest distinct number in the list, or
    None when there is none. second_largest([1, 3, 2]) == 2.""",
     """distinct = sorted(set(numbers))
    return distinct[-2] if len(distinct) > 1 else None""",
     ['second_largest([1, 3, 2])', 'second_largest([5, 5])', 'second_largest([])'],
     ['second_largest([4, 4, 1])', 'second_largest([7])']),
    ("chunk", "items: list, size: int", """Split items into lists of `size` items; the last
    list holds what is left. chunk([1, 2, 3], 2) == [[1, 2], [3]].""",
     """return [items[i:i + size] for i in range(0, len(items), size)]""",
     ['chunk([1, 2, 3], 2)', 'chunk([], 3)', 'chunk([1, 2, 3, 4], 2)'],
     ['chunk([1, 2, 3, 4, 5], 2)', 'chunk([1, 2], 5)']),
    ("rotate_left", "items: list, k: int", """Move the first k items to the end, k taken modulo
    the length; an empty list stays empty. rotate_left([1, 2, 3], 1) == [2, 3, 1].""",
     """if not items:
        return []
    k %= len(items)
    return items[k:] + items[:k]""",
     ['rotate_left([1, 2, 3], 1)', 'rotate_left([1, 2, 3], 3)', 'rotate_left([], 2)'],
     ['rotate_left([1, 2, 3, 4], 5)', 'rotate_left([1, 2, 3], 0)']),
    ("digit_sum", "n: int", """The sum of the decimal digits of n; a negative number's sign is
    ignored. digit_sum(123) == 6.""",
     """return sum(int(d) for d in str(abs(n)))""",
     ['digit_sum(123)', 'digit_sum(-45)', 'digit_sum(0)'],
     ['digit_sum(-909)', 'digit_sum(1000)']),
    ("interleave", "a: list, b: list", """Alternate the items of a and b, starting with a; what
    is left of the longer list follows. interleave([1, 2], ["x"]) == [1, "x", 2].""",
     """out = []
    for i in range(max(len(a), len(b))):
        if i < len(a):
            out.append(a[i])
        if i < len(b):
            out.append(b[i])
    return out""",
     ['interleave([1, 2], ["x"])', 'interleave([], [1])', 'interleave([1], [2, 3, 4])'],
     ['interleave([1, 2, 3], [9])', 'interleave(["a"], ["b", "c"])']),
    ("squeeze_spaces", "text: str", """Replace each run of spaces with one space and drop the
    spaces at both ends. squeeze_spaces("  a   b ") == "a b".""",
     """return " ".join(part for part in text.split(" ") if part)""",
     ['squeeze_spaces("  a   b ")', 'squeeze_spaces("")', 'squeeze_spaces("x")'],
     ['squeeze_spaces("one  two   three")', 'squeeze_spaces("   ")']),
    ("is_sorted", "numbers: list", """Whether the numbers never decrease from left to right; an
    empty list is sorted. is_sorted([1, 2, 2]) == True.""",
     """return all(x <= y for x, y in zip(numbers, numbers[1:]))""",
     ['is_sorted([1, 2, 2])', 'is_sorted([3, 1])', 'is_sorted([])'],
     ['is_sorted([5, 5, 5])', 'is_sorted([1, 3, 2, 4])']),
    ("initials", "name: str", """The upper-case first letter of each word of a name, words
    split on spaces. initials("ada lovelace") == "AL".""",
     """return "".join(word[0].upper() for word in name.split())""",
     ['initials("ada lovelace")', 'initials("Grace")', 'initials("")'],
     ['initials("guido van rossum")', 'initials("  alan  turing ")']),
    ("keep_evens", "numbers: list", """The even numbers of the list, in their order; zero is
    even. keep_evens([1, 2, 3, 4]) == [2, 4].""",
     """return [n for n in numbers if n % 2 == 0]""",
     ['keep_evens([1, 2, 3, 4])', 'keep_evens([1, 3])', 'keep_evens([0, -2, 5])'],
     ['keep_evens([0, 7, 8])', 'keep_evens([-3, -4])']),
    ("fizz", "n: int", """"Fizz" when n is divisible by 3, "Buzz" when by 5, "FizzBuzz" when by
    both, else n as a string. fizz(9) == "Fizz".""",
     """if n % 15 == 0:
        return "FizzBuzz"
    if n % 3 == 0:
        return "Fizz"
    if n % 5 == 0:
        return "Buzz"
    return str(n)""",
     ['fizz(9)', 'fizz(10)', 'fizz(30)', 'fizz(7)'],
     ['fizz(45)', 'fizz(11)']),
]


def stub(name: str, signature: str, doc: str) -> str:
    body = textwrap.indent(textwrap.dedent("    " + doc.strip()), "    ").strip()
    return (f'def {name}({signature}):\n    """{body}\n    """\n'
            f"    raise NotImplementedError\n")


def reference(name: str, signature: str, doc: str, code: str) -> str:
    return stub(name, signature, doc).replace("    raise NotImplementedError\n",
                                              f"    {code}\n")


def evaluate(source: str, name: str, call: str) -> str:
    namespace: dict = {}
    exec(compile(source, MODULE, "exec"), namespace)  # noqa: S102 - our own reference code
    return repr(eval(call, {name: namespace[name]}))  # our own calls


def main() -> None:
    plans, answers = [], []
    for name, signature, doc, code, plan_calls, answer_calls in PROBLEMS:
        source = reference(name, signature, doc, code)
        feature = f"Implement {name} in {MODULE} as its docstring says, and add tests."
        common = {"feature": feature, "module": MODULE, "imports": {name: MODULE[:-3]},
                  "reference_code": source}
        plans.append({
            "id": f"test-plan-{name}", "agent": "test", "task": "plan",
            "input": {**common, "files": {MODULE: stub(name, signature, doc)},
                      "functions": [f"{name}({signature})"]},
            "expect": {"cases_correct": True},
            "reference": {"strategy": "One case per rule of the docstring.", "cases": [
                {"call": c, "expected": evaluate(source, name, c), "criterion": ""}
                for c in plan_calls]},
            "source": SOURCE})
        for i, call in enumerate(answer_calls):
            value = evaluate(source, name, call)
            answers.append({
                "id": f"test-answer-{name}-{i}", "agent": "test", "task": "answer",
                "input": {**common, "stub_path": MODULE,
                          "stub_code": stub(name, signature, doc), "call": call},
                "expect": {"expected": value}, "reference": {"expected": value},
                "source": SOURCE})
    for filename, rows in (("test.plan.jsonl", plans), ("test.answer.jsonl", answers)):
        (OUT / filename).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows),
                                    encoding="utf-8")
        print(f"{filename}: {len(rows)} cases")


if __name__ == "__main__":
    main()
