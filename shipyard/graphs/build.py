"""G3's executable acceptance cases and G5's inner loop (DESIGN §1, issue 7).

G3: examples in the request and in the docstrings of the functions it names
become test cases by code ("docstring"/"request": authoritative); the Test
Engineer adds cases of its own ("proposed"). All are written as one pytest file
and committed before any code exists.

G5: the Implementer replies with code blocks; code applies them as targeted
edits, checks that every Python file parses, applies ruff's safe fixes where
they touch only the new lines, lints the new lines and runs every case against
the candidate in the sandbox. Failures go straight back to the Implementer with
what each call returned, for a bounded number of attempts (greedy first, then
repairs and fresh samples). Only a green candidate is committed for review.

A proposed case can be wrong (a 0.5B model miscounts). It is set aside —
recorded, shown to the human, removed from the test file — only when two
distinct candidates that pass every authoritative case agree with each other
against it (dual agreement, after CodeT). Authoritative cases are never set aside.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import keyword
import re
import shutil
import tempfile
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agents import implementer, test_engineer
from ..agents.edits import EditError, apply_edits, parse_blocks
from ..agents.examples import Example, extract_examples, module_of, render_tests
from ..runtime import repomap
from .scale import BRIEF

if TYPE_CHECKING:
    from ..runtime.probe import Probe
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["AUTHORITATIVE", "acceptance", "implement", "relevant_files"]

AUTHORITATIVE = ("docstring", "request")
FILES_LIMIT = 12_000       # characters of source shown (the embedded model has an 8k window)
IMPLEMENT_MAX_TOKENS = 1024
# attempt -> (temperature, repair?): greedy, repair, fresh sample, repair, fresh, ...
_SCHEDULE = [(0.0, False), (0.3, True), (0.8, False), (0.5, True)]
_IDENT = re.compile(r"`?([A-Za-z_][A-Za-z0-9_]*)`?\s*\(|`([A-Za-z_][A-Za-z0-9_]*)`")
_NOT_TARGETS = set(dir(builtins)) | set(keyword.kwlist) | {"self", "cls"}


# -- context -------------------------------------------------------------------------------
def relevant_files(n: Nodes, s: FeatureState) -> dict[str, str]:
    """The files the change is about, within FILES_LIMIT: files the request names, the
    planner's files and the files defining what the request names come first; then the
    repository map's BM25 ranking by the request's terms (runtime/repomap.py). A file too
    big for what is left is shown as its outline (signatures and docstrings).

    Test files are left out unless the request names them: tests are G3's job, and a small
    model shown the acceptance tests rewrites them instead of the code."""
    ws = n.env.workspace(s)
    tracked = [f for f in ws.git.tracked_files("HEAD") if not f.startswith("docs/")]
    mentioned = [f for f in tracked if f in s["feature"]]
    source = [f for f in tracked if f.endswith(".py") and not _is_test(f)]
    names = targets(s["feature"])
    defining = [f for f in source if names & _defs(_read(ws.path, f))]
    planned = [f for f in _planned(s) if f in tracked and not _is_test(f)]
    first = list(dict.fromkeys([*mentioned, *planned, *defining]))
    tree = repomap.Tree.from_dir(ws.path, list(dict.fromkeys([*first, *source])))
    return repomap.relevant_files(tree, s["feature"], first, budget_chars=FILES_LIMIT)


def _planned(s: FeatureState) -> list[str]:
    files = list((s.get("rfc") or {}).get("files", []))
    for t in (s.get("delivery") or {}).get("tasks", []):
        files += t.get("files", [])
    return [f.strip().lstrip("./") if f.strip().startswith("./") else f.strip() for f in files]


def targets(feature: str) -> set[str]:
    """Function names the request talks about: `name(` or `name` in backticks."""
    found = {a or b for a, b in _IDENT.findall(feature)}
    return {n for n in found if n not in _NOT_TARGETS}


def _read(root: Path, rel: str) -> str:
    try:
        return (root / rel).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _defs(text: str) -> set[str]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}


_is_test = repomap.is_test_path


# -- G3: acceptance cases ------------------------------------------------------------------
def acceptance(n: Nodes, s: FeatureState, files: dict[str, str]) -> dict[str, Any]:
    """The acceptance cases and where they live: {path, imports, cases, disputed}."""
    plan = _test_plan(n, s, files)
    split = [_split_case(c["call"], c["expected"]) for c in plan.get("cases", [])]
    # the functions the request names, and those the Test Engineer's cases call
    names = targets(s["feature"]) | {m.group(1) for call, _ in split
                                     if (m := re.match(r"\s*([A-Za-z_]\w*)\s*\(", call))
                                     and m.group(1) not in _NOT_TARGETS}
    imports = _imports(s, files, names)
    cases: list[Example] = []
    for path, text in files.items():
        if path.endswith(".py") and not _is_test(path):
            for name, doc in _docstrings(text).items():
                if name in imports:
                    cases += extract_examples(doc, {name}, source="docstring")
    cases += extract_examples(s["feature"], set(imports), source="request")
    known = {c.call.replace(" ", "") for c in cases}
    for call, expected in split:
        proposed = extract_examples(f">>> {call}\n{expected}", set(imports), source="proposed")
        cases += [p for p in proposed if p.call.replace(" ", "") not in known]
    cases = list(dict.fromkeys(cases))
    used = {c.function for c in cases}
    return {"path": _test_path(n, s, used), "plan": plan,
            "imports": {k: v for k, v in imports.items() if k in used},
            "cases": [{"call": c.call, "expected": c.expected, "source": c.source}
                      for c in cases], "disputed": []}


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
    return test_engineer.PLAN.run(n.env.gateway(s["run_id"]), gate="G3",
                                  brief=s.get("planning") == BRIEF,
                                  **n.context(s, "tests", file_contents=files)).model_dump(
        mode="json")


def _imports(s: FeatureState, files: dict[str, str], names: set[str]) -> dict[str, str]:
    """name -> module for each target: where it is defined, else the planned module."""
    out = {}
    for path, text in files.items():
        if path.endswith(".py") and not _is_test(path):
            for name in names & _defs(text):
                out.setdefault(name, module_of(path))
    home = next((f for f in [*re.findall(r"[\w./-]+\.py", s["feature"]), *_planned(s)]
                 if f.endswith(".py") and not _is_test(f) and not f.endswith("__init__.py")),
                None)
    if home:
        for name in names - set(out):
            out[name] = module_of(home)
    return out


def _docstrings(text: str) -> dict[str, str]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    return {node.name: ast.get_docstring(node) or "" for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


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
    for argv in (["check", "--fix", "--exit-zero", "--quiet"], ["format", "--quiet"]):
        res = _ruff_stdin(root, acc["path"], text, *argv)
        if res.ok and res.stdout.strip():
            text = res.stdout
    return text


# -- G5: the inner loop --------------------------------------------------------------------
@dataclass(kw_only=True)
class Candidate:
    attempt: int
    files: dict[str, str]
    probe: Probe | None = None
    problems: list[str] = field(default_factory=list)

    def authoritative_ok(self) -> bool:
        return self.probe is not None and self.probe.error is None and all(
            r.ok for r in self.probe.results if r.source in AUTHORITATIVE)

    def score(self) -> tuple[int, int, int]:
        if self.probe is None or self.problems:
            return (0, 0, -self.attempt)
        return (self.probe.score(sources=AUTHORITATIVE), self.probe.score(), -self.attempt)


def implement(n: Nodes, s: FeatureState, files: dict[str, str],
              acc: dict[str, Any]) -> tuple[Candidate | None, list[str], dict[str, Any]]:
    """Attempts until a candidate passes; returns (the candidate to commit or None, what
    failed last, the acceptance record with any disputed cases)."""
    rnd = s.get("fix_round", 0)
    gw = n.env.gateway(s["run_id"])
    attempts = n.env.settings.gates.inner_attempts
    candidates: list[Candidate] = []
    feedback: list[str] = []
    previous = ""
    scratch = Path(tempfile.mkdtemp(prefix="shipyard-inner-"))
    try:
        for i in range(attempts):
            temperature, repair = _SCHEDULE[i % len(_SCHEDULE)]
            cand = _attempt(n, s, gw, i, temperature, feedback if repair else [],
                            previous if repair else "", files, acc, scratch)
            candidates.append(cand)
            _record(n, s, rnd, cand, temperature)
            if not cand.problems and cand.probe is not None and cand.probe.passed:
                return cand, [], acc
            feedback = cand.problems or _case_feedback(cand.probe)
            previous = _blocks_text(cand)
        for extra_i, temp in enumerate((0.8, 1.0)):
            good = _distinct([c for c in candidates if not c.problems and c.authoritative_ok()])
            if len(good) != 1 or all(r.ok for r in good[0].probe.results):  # type: ignore[union-attr]
                break
            # dual agreement needs a second, different candidate that passes the documented
            # examples: sample more (identical code agreeing with itself is no evidence)
            extra = _attempt(n, s, gw, attempts + extra_i, temp, [], "", files, acc, scratch)
            candidates.append(extra)
            _record(n, s, rnd, extra, temp)
            if not extra.problems and extra.probe is not None and extra.probe.passed:
                return extra, [], acc
        acc = _settle_disputes(n, s, acc, candidates)
        live = [c for c in candidates if not c.problems and c.probe is not None
                and c.probe.error is None
                and all(r.ok for r in c.probe.results
                        if _key(r) not in {_key(d) for d in acc["disputed"]})]
        if live:
            return live[0], [], acc
        best = max(candidates, key=Candidate.score)
        return None, best.problems or _case_feedback(best.probe), acc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _attempt(n: Nodes, s: FeatureState, gw: Any, i: int, temperature: float,
             feedback: list[str], previous: str, files: dict[str, str], acc: dict[str, Any],
             scratch: Path) -> Candidate:
    ws = n.env.workspace(s)
    cases = [c for c in acc["cases"] if c not in acc["disputed"]]
    # With executable cases, the planner's prose criteria are left out: a 0.5B model follows
    # their noise ("use set operations") over the request and the cases that decide.
    ctx = n.context(s, "implement", file_contents=files, cases=cases[:8], feedback=feedback,
                    previous=previous, findings=s.get("findings", []), criteria=not cases)
    reply = implementer.IMPLEMENT.run(gw, gate="G5", temperature=temperature,
                                      max_tokens=IMPLEMENT_MAX_TOKENS, **ctx)
    if reply.truncated:
        return Candidate(attempt=i, files={}, problems=[
            (f"your reply hit the {IMPLEMENT_MAX_TOKENS}-token limit and was cut off; give only "
            f"the functions you change")])
    try:
        blocks = parse_blocks(reply.content)
    except EditError as exc:
        return Candidate(attempt=i, files={}, problems=[str(exc)])
    refused = [(b.path, why) for b in blocks if b.path and (why := ws.refusal(b.path))]
    if refused:  # nothing is read or written outside the rules, not even in the sandbox copy
        return Candidate(attempt=i, files={}, problems=n.log_refusals(s, "G5", tuple(refused)))
    planned = next((f for f in _planned(s) if f.endswith(".py") and not _is_test(f)), None)
    protected = {acc["path"]: "written by shipyard from the acceptance criteria; change the "
                              "code, not this test"} if acc["cases"] else {}
    # Tests are G3's job: the Implementer's own test files and test functions are dropped
    # (a 0.5B model adds them unasked, and they are where it runs out of tokens).
    blocks = [b for b in blocks
              if not (b.path and _is_test(b.path) and b.path not in protected)]
    blocks = [replace(b, code=_without_tests(b.code)) for b in blocks]
    applied = apply_edits(blocks, lambda p: _existing(ws.path, p), default_path=planned,
                          protected=protected)
    if applied.problems:
        return Candidate(attempt=i, files=applied.files, problems=applied.problems)
    base = {rel: ws.git.run("show", f"{s['base_sha']}:{rel}", check=False)
            for rel in applied.files}
    if missing := _missing(ws.path, s["feature"], applied.files, base):
        return Candidate(attempt=i, files=applied.files, problems=missing)
    fixed, lint = _ruff(ws.path, applied.files)
    cand = Candidate(attempt=i, files=fixed, problems=lint)
    if not lint:
        cand.probe = _probe(n, s, fixed, acc, scratch / f"a{i}")
        if cand.probe.error:
            cand.problems = [cand.probe.error]
    return cand


def _missing(root: Path, feature: str, files: dict[str, str],
             base: dict[str, str]) -> list[str]:
    """What makes a candidate no change at all: its files are as they were at the base, or
    a new function the request names (`slugify(text)`, not `os.system(`) is defined nowhere.
    (A fix round may resend the code it already committed: that is still a change.)"""
    if all(base.get(rel) == text for rel, text in files.items()):
        return ["your reply changes nothing: add or change the code the request asks for"]
    undotted = {m.group(1) or m.group(2) for m in _IDENT.finditer(feature)
                if not feature[:m.start()].endswith(".")}
    named = targets(feature) & undotted
    py = [rel for rel in files if rel.endswith(".py")]
    defined = set().union(*(_defs(files[rel]) for rel in py)) if py else set()
    new = {n for n in named - defined if not _defined_in_repo(root, n, skip=set(files))}
    return [f"`{n}` is not defined anywhere: write it where the request says" for n in sorted(new)]


def _defined_in_repo(root: Path, name: str, *, skip: set[str]) -> bool:
    from ..runtime.proc import run as run_proc

    res = run_proc(["git", "grep", "-l", "-E", rf"^\s*(async\s+)?(def|class)\s+{name}\b", "--",
                    "*.py"], cwd=root, timeout=30)
    return any(p not in skip for p in res.stdout.split())


def _without_tests(code: str) -> str:
    """`code` without top-level `test_*` functions and `Test*` classes."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return code
    lines = textwrap.dedent(code).splitlines(keepends=True)
    drop = [(n.lineno, n.end_lineno or n.lineno) for n in tree.body
            if (isinstance(n, ast.FunctionDef) and n.name.startswith("test"))
            or (isinstance(n, ast.ClassDef) and n.name.startswith("Test"))]
    for start, end in reversed(drop):
        del lines[start - 1:end]
    return "".join(lines)


def _existing(root: Path, rel: str) -> str | None:
    path = root / rel
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def _ruff(root: Path, files: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Ruff's safe fixes where they leave the file's old lines alone; then lint of the
    lines the candidate changed. Ruff never runs the code it reads."""
    from ..runtime.checks._suppress import default_rules

    out, problems = dict(files), []
    rules = default_rules(root)  # the rules the G5 lint check will apply
    for rel, text in files.items():
        if not rel.endswith(".py"):
            continue
        old = _existing(root, rel) or ""
        # Safe fixes, then one unsafe fix only: an unused local (F841) is dropped, keeping a
        # right-hand side that may have effects. Small models leave such variables behind and
        # then cannot find them from the lint message alone.
        for fix in ((*rules,), ("--unsafe-fixes", "--select", "F841")):
            res = _ruff_stdin(root, rel, text, "check", "--fix", "--exit-zero", "--quiet", *fix)
            if res.ok and res.stdout.strip() and _keeps_old_lines(old, text, res.stdout):
                out[rel] = text = res.stdout
        res = _ruff_stdin(root, rel, text, "check", "--output-format", "concise", *rules)
        new_lines = _changed_lines(old, text)
        for line in res.stdout.splitlines():
            m = re.match(rf"{re.escape(rel)}:(\d+):\d+: (.*)", line)
            if m and int(m.group(1)) in new_lines:
                problems.append(f"{rel}:{m.group(1)}: {m.group(2)}")
    return out, problems


def _ruff_stdin(root: Path, rel: str, text: str, *args: str) -> Any:
    """ruff on `text` as if it were `rel` in `root` (its config applies); never writes files."""
    from ..runtime.checks._util import tool
    from ..runtime.proc import run as run_proc

    return run_proc([tool("ruff"), *args, "--no-cache", "--stdin-filename", rel, "-"], cwd=root,
                    stdin=text, timeout=60)


def _keeps_old_lines(old: str, candidate: str, fixed: str) -> bool:
    """True when the fix changed no line the candidate kept from the old file."""
    a, b, c = old.splitlines(), candidate.splitlines(), fixed.splitlines()
    kept = {j for tag, _i1, _i2, j1, j2 in
            difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
            if tag == "equal" for j in range(j1, j2)}
    touched = {i for tag, i1, i2, _j1, _j2 in
               difflib.SequenceMatcher(a=b, b=c, autojunk=False).get_opcodes()
               if tag in ("replace", "delete") for i in range(i1, i2)}
    return not kept & touched


def _changed_lines(old: str, new: str) -> set[int]:
    sm = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    return {j + 1 for tag, _i1, _i2, j1, j2 in sm.get_opcodes() if tag != "equal"
            for j in range(j1, j2)}


def _probe(n: Nodes, s: FeatureState, files: dict[str, str], acc: dict[str, Any],
           scratch: Path) -> Probe:
    from ..runtime.checks._util import target_python
    from ..runtime.probe import copy_tree, probe_cases

    ws = n.env.workspace(s)
    tree = copy_tree(ws.path, ws.git.tracked_files("HEAD"), scratch / "tree")
    for rel, text in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text, encoding="utf-8")
    cases = [{**c, "imports": {k: v for k, v in acc["imports"].items()
                               if re.search(rf"\b{re.escape(k)}\b", c["call"])}}
             for c in acc["cases"]]
    return probe_cases(tree, cases, scratch=scratch / "out",
                       python=target_python(n.env.root), sandbox=n.env.settings.policy.sandbox)


def _case_feedback(probe: Probe | None) -> list[str]:
    if probe is None:
        return []
    if probe.error:
        return [probe.error]
    return [f"{r.call} returned {r.got}, expected {r.expected}" for r in probe.failures[:6]]


def _blocks_text(c: Candidate) -> str:
    """The candidate's Python files, shown back to the Implementer in a repair attempt."""
    if c.problems:
        return ""
    shown = (f"FILE: {p}\n```python\n{t[:1500]}\n```" for p, t in c.files.items()
             if p.endswith(".py"))
    return "\n".join(shown)[:2500]


def _key(case: Any) -> tuple[str, str]:
    return (case["call"], case["expected"]) if isinstance(case, dict) else (case.call,
                                                                          case.expected)


def _distinct(candidates: list[Candidate]) -> list[Candidate]:
    """One candidate per distinct code (ignoring blank lines and trailing spaces)."""
    def norm(c: Candidate) -> tuple:
        return tuple(sorted((p, "\n".join(ln.rstrip() for ln in t.splitlines() if ln.strip()))
                            for p, t in c.files.items()))
    return list({norm(c): c for c in candidates}.values())


def _settle_disputes(n: Nodes, s: FeatureState, acc: dict[str, Any],
                     candidates: list[Candidate]) -> dict[str, Any]:
    """Set aside proposed cases that two distinct candidates passing every authoritative
    case agree against (same returned value, not the expected one)."""
    distinct = _distinct([c for c in candidates if not c.problems and c.authoritative_ok()])
    if len(distinct) < 2:
        return acc
    disputed = list(acc["disputed"])
    for idx, case in enumerate(acc["cases"]):
        if case["source"] in AUTHORITATIVE or case in disputed:
            continue
        outs = [c.probe.results[idx] for c in distinct if c.probe]  # type: ignore[union-attr]
        wrong = [r.got for r in outs if not r.ok]
        if len(wrong) >= 2 and len(set(wrong)) < len(wrong) and not any(r.ok for r in outs):
            disputed.append(case)
            n.env.ledger.event(s["run_id"], "acceptance_case_disputed", gate="G5",
                               call=case["call"], expected=case["expected"], got=wrong,
                               why="two independent candidates that pass every documented "
                                   "example agree against this proposed case")
    return {**acc, "disputed": disputed}


def _record(n: Nodes, s: FeatureState, rnd: int, c: Candidate, temperature: float) -> None:
    results = [] if c.probe is None else [
        {"call": r.call, "expected": r.expected, "source": r.source, "ok": r.ok, "got": r.got}
        for r in c.probe.results]
    passed = bool(c.probe and c.probe.passed and not c.problems)
    n.env.ledger.event(s["run_id"], "inner_attempt", gate="G5", round=rnd, attempt=c.attempt,
                       temperature=temperature, files=sorted(c.files), problems=c.problems,
                       results=results, passed=passed)
    n.env.say(f"G5: attempt {c.attempt + 1} → "
              + ("green" if passed else (c.problems[0][:120] if c.problems else
                                         f"{len(c.probe.failures) if c.probe else '?'} "
                                         f"case(s) fail")))
