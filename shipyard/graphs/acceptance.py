"""G3's executable acceptance cases (DESIGN §1, issue 7).

Examples in the request and in the docstrings of the functions it names become test
cases by code ("docstring"/"request": authoritative); the Test Engineer adds cases of its
own ("proposed"). All are written as one pytest file and committed before any code
exists. G5's inner loop (graphs/build.py) runs them against every candidate.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agents import test_engineer
from ..agents.examples import Example, canonical, extract_examples, module_of, renamed, render_tests
from ..agents.raising import raised, written
from ..errors import ModelOutputInvalid
from . import skeleton
from .context import NOT_TARGETS, defs, is_test, named, planned_files, targets
from .fitting import (
    argument_kinds,
    fits,
    functions,
    like_documented,
    odd_ones,
    parameters,
    signatures,
)
from .lint import ruff_stdin
from .scale import BRIEF

if TYPE_CHECKING:
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["AUTHORITATIVE", "acceptance", "test_file"]

AUTHORITATIVE = ("docstring", "request")


def acceptance(n: Nodes, s: FeatureState, files: dict[str, str]) -> dict[str, Any]:
    """The acceptance cases and where they live: {path, imports, cases, disputed}.

    When the Test Engineer's reply is invalid even after its repair, the documented
    examples alone are the cases (recorded, and said in the test plan): a 0.5B model's
    malformed JSON should not end a run whose request already says what is right. With no
    documented example either, the error stands."""
    invalid: ModelOutputInvalid | None = None
    try:
        plan = _test_plan(n, s, files)
    except ModelOutputInvalid as exc:
        invalid = exc
        plan = {"strategy": "The Test Engineer's reply was not a valid test plan (raw reply in "
                            "the ledger); the documented examples are the only cases.",
                "cases": []}
    split = [_split_case(c["call"], c["expected"]) for c in plan.get("cases", [])]
    # The functions the request names; only when it names none, those the Test Engineer's
    # cases call (a 0.5B model otherwise writes cases for whatever functions it was shown).
    names = targets(s["feature"]) or {m.group(1) for call, _ in split
                                      if (m := re.match(r"\s*([A-Za-z_]\w*)\s*\(", call))
                                      and m.group(1) not in NOT_TARGETS}
    if len(names) == 1:
        split = [(_as_call(call, next(iter(names))), expected) for call, expected in split]
    imports = _imports(s, files, names)
    sigs = signatures(files, set(imports))
    cases = _documented(s, files, imports, sigs)
    # the same call however it is quoted or spaced: `f('a')` is the docstring's `f("a")`,
    # and a copy of a documented example must not count as the Test Engineer's confirmation
    known = {canonical(c.call) for c in cases}
    strings = returns_strings(cases)
    kinds = argument_kinds([c.call for c in cases])
    odd = {canonical(c) for c in odd_ones([call for call, _ in split])} if not kinds else set()
    unfit: list[str] = []
    for call, expected in split:
        literal = written(expected) or (spelled(_as_literal(expected)) if strings
                                        else _as_literal(expected))
        for p in extract_examples(f">>> {call}\n{literal}", set(imports),
                                  source="proposed"):
            if not fits(p.call, sigs) or not like_documented(p.call, kinds) \
                    or canonical(p.call) in odd:
                unfit.append(p.call)
            elif canonical(p.call) not in known:
                cases.append(p)
    if unfit:
        # `circular_shift(12)` for `circular_shift(x, shift)` (HumanEval 65): every candidate
        # raises TypeError on it, and that agreement once counted as a second opinion
        n.env.ledger.event(s["run_id"], "acceptance_case_dropped", gate="G3", calls=unfit,
                           why="the call does not match the function's signature or "
                               "the kinds of argument its documented examples (without "
                               "one, three or more of the other cases) pass")
        n.env.say(f"G3: dropped {len(unfit)} proposed case(s) whose call does not match the "
                  f"signature or the arguments the other cases pass: {', '.join(unfit[:3])}")
    cases = list(dict.fromkeys(cases))
    if invalid is not None:
        if not cases:
            raise invalid
        n.env.ledger.event(s["run_id"], "test_plan_invalid", gate="G3", error=str(invalid),
                           documented_cases=len(cases))
        n.env.say(f"G3: the Test Engineer's plan was invalid; going on with the "
                  f"{len(cases)} documented example(s)")
    used = {c.function for c in cases}
    return {"path": _test_path(n, s, used), "plan": plan,
            "imports": {k: v for k, v in imports.items() if k in used},
            "cases": [{"call": c.call, "expected": c.expected, "source": c.source}
                      for c in cases], "disputed": [], "returns_strings": strings}


def returns_strings(cases: list[Example]) -> bool:
    """Whether the documented examples, two or more, all return strings."""
    documented = [c for c in cases if c.source in AUTHORITATIVE and not raised(c.expected)]
    return len(documented) >= 2 and all(isinstance(_literal(c.expected), str)
                                        for c in documented)


def spelled(expected: str) -> str:
    """A number the Test Engineer gives where every documented result is a string, as the
    string it spells: JSON's `"expected": "1"` for HumanEval 84's `solve(1)`, whose
    examples return "1", "110", "1100", reads as the int 1, and the case, asked again,
    was upheld against every correct candidate. Anything else is left as it is."""
    value = _literal(expected)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(expected.strip())
    return expected


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _documented(s: FeatureState, files: dict[str, str], imports: dict[str, str],
                sigs: dict[str, inspect.Signature]) -> list[Example]:
    """The examples of the functions in `imports` that the docstrings and the request
    show. A docstring's examples that call its function by a name nothing defines (one it
    had before a rename) count as the function's when the arguments fit its signature."""
    defined = set().union(*(defs(t) for p, t in files.items() if p.endswith(".py")))
    cases: list[Example] = []
    for path, text in files.items():
        if path.endswith(".py") and not is_test(path):
            for name, (doc, params) in _docstrings(text).items():
                if name in imports:
                    alias = renamed(doc, name, defined)
                    found = extract_examples(alias, {name}, source="docstring",
                                             params={name: params})
                    cases += found if alias == doc else [e for e in found
                                                         if fits(e.call, sigs)]
    cases += extract_examples(s["feature"], set(imports), source="request")
    return cases


def _as_literal(expected: str) -> str:
    """The Test Engineer's expected value as a Python literal. A 0.5B model writes JSON
    `"expected": "hello-world"` meaning the string: a bare word or phrase that is no
    literal is quoted, and `""` is the empty string; anything with quotes or brackets is
    left as is."""
    text = expected.strip()
    if not text:
        return "''"
    try:
        ast.literal_eval(text)
        return text
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    return repr(text) if text and not re.search(r"[\"'()\[\]{}\\]", text) else text


def _as_call(call: str, name: str) -> str:
    """A case written as the argument alone (`"call": "ab"`, seen on HumanEval 38) is a
    call of the one function the request names: `decode_cyclic('ab')`. A comma left at
    either end belongs to no argument (HumanEval 75 wrote `",30"`, which became the
    string `',30'`: every sample raised on it, and the case confirmed nothing)."""
    text = call.strip().strip(",").strip()
    if not text or re.match(r"[A-Za-z_][\w.]*\s*\(", text):
        return call
    return f"{name}({_as_literal(text)})"


def _split_case(call: str, expected: str) -> tuple[str, str]:
    """Small models write `assert f(x) == y` as the call: take it apart."""
    call = call.strip().removeprefix("assert ").strip()
    if "==" in call:
        left, _, right = call.partition("==")
        return left.strip(), right.strip() or expected
    return call, expected


def _test_plan(n: Nodes, s: FeatureState, files: dict[str, str]) -> dict[str, Any]:
    recorded = n.recorded_output(s, "test", "plan")
    if recorded is not None and n.env.workspace(s).git.find_step_commit(s["base_sha"],
                                                                        "g3-tests"):
        return recorded
    # Named with their parameters where a file defines them: told only `circular_shift`,
    # the model wrote `circular_shift(12)` five times for `circular_shift(x, shift)`.
    params = parameters(files, targets(s["feature"]))
    functions = [f"{name}({ast.unparse(params[name])})" if name in params else name
                 for name in sorted(targets(s["feature"]))]
    # The prompt names the functions; cases calling others are dropped by `acceptance`. (A
    # grammar pattern on `call` was tried: the model lost its way inside the string and ran
    # to the 2,048-token limit on HumanEval problem 1.)
    return test_engineer.PLAN.run(n.env.gateway(s["run_id"]), gate="G3",
                                  brief=s.get("planning") == BRIEF,
                                  **n.context(s, "tests",
                                              file_contents=shown(s["feature"], files),
                                              functions=functions)
                                  ).model_dump(
        mode="json")


def shown(feature: str, files: dict[str, str]) -> dict[str, str]:
    """What the Test Engineer plans from. When the request changes functions that exist,
    those alone, posed as the Implementer is posed them (skeleton.restated): the docstring
    and what is to change, no body: the module whole shows the code as it stands, and the
    Test Engineer's cases are then as likely to state what it does now as what the
    request asks (count_words, 2026-12-07: junk cases, and a wrong change merged). New
    functions and stubs: the files as they are."""
    names = named(feature)
    out: dict[str, str] = {}
    for path, text in files.items():
        if not path.endswith(".py") or is_test(path):
            continue
        changed = (names & defs(text)) - skeleton.stubbed(text)
        if changed and (stub := skeleton.restated(skeleton.focus(text, changed), changed,
                                                  feature)):
            out[path] = stub
    return out or files


def _imports(s: FeatureState, files: dict[str, str], names: set[str]) -> dict[str, str]:
    """name -> module for each target: where it is defined, else the planned module."""
    out = {}
    for path, text in files.items():
        if path.endswith(".py") and not is_test(path):
            for name in names & defs(text):
                out.setdefault(name, module_of(path))
    home = next((f for f in [*re.findall(r"[\w./-]+\.py", s["feature"]), *planned_files(s)]
                 if f.endswith(".py") and not is_test(f) and not f.endswith("__init__.py")),
                None)
    if home:
        for name in names - set(out):
            out[name] = module_of(home)
    return out


def _docstrings(text: str) -> dict[str, tuple[str, list[str]]]:
    """Each top-level function's docstring and the names of its parameters."""
    return {node.name: (ast.get_docstring(node) or "",
                        [a.arg for a in [*node.args.posonlyargs, *node.args.args]])
            for node in functions(text)}


def _test_path(n: Nodes, s: FeatureState, names: set[str | None]) -> str:
    stem = "_".join(sorted(x for x in names if x))[:40] or "feature"
    root = n.env.workspace(s).path
    folder = "tests" if (root / "tests").is_dir() or not (root / "test").is_dir() else "test"
    path = f"{folder}/test_{stem}_acceptance.py"
    return path if not (root / path).exists() else f"{folder}/test_{stem}_{s['run_id'][-6:]}.py"


def test_file(root: Path, s: FeatureState, acc: dict[str, Any]) -> str:
    """The acceptance test file, fixed and formatted with the repository's own ruff config
    (it is shipyard's file: its style must not be what blocks the change)."""

    cases = [Example(**c) for c in acc["cases"] if c not in acc["disputed"]]
    text = render_tests((s.get("onepager") or {}).get("title", s["feature"]), acc["imports"],
                        cases)
    # The parametrize names' shape is the repository's choice (flake8-pytest-style's
    # `parametrize-names-type`: python-humanize wants "call,expected") and ruff calls that
    # fix unsafe; it is safe on this file, whose parametrize line shipyard wrote.
    for argv in (["check", "--fix", "--exit-zero", "--quiet"],
                 ["check", "--fix", "--unsafe-fixes", "--select", "PT006", "--exit-zero",
                  "--quiet"], ["format", "--quiet"]):
        res = ruff_stdin(root, acc["path"], text, *argv)
        if res.ok and res.stdout.strip():
            text = res.stdout
    return text

