"""An Implementer reply made a candidate change (DESIGN §1, issue 7).

The reply's code blocks are applied by code as targeted edits over the skeleton
(graphs/skeleton.py) — never a file rewritten from a JSON string — then the result must
be a change at all (`_missing`), parse, pass ruff on its new lines (graphs/lint.py), and
run every G3 case in the sandbox (graphs/probing.py); one that passes every documented
example is also run on the empty input (graphs/empties.py) and, if it answered every case
alike, on inputs near them (graphs/inert.py). A reply cut off at its token limit is a
failed generation, never applied. What went wrong is the candidate's `problems`, worded
for the Implementer's next attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agents.edits import EditError, apply_edits, parse_blocks
from . import probing, skeleton
from .acceptance import AUTHORITATIVE
from .context import defined_in_repo, defs, existing, is_test, named, planned_files
from .lint import expand_star_imports, fix_and_lint, import_stdlib
from .trim import in_focus, without_tests

if TYPE_CHECKING:
    from ..runtime.probe import Probe
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["IMPLEMENT_MAX_TOKENS", "Candidate", "from_reply"]

IMPLEMENT_MAX_TOKENS = 1024


@dataclass(kw_only=True)
class Candidate:
    attempt: int
    files: dict[str, str]
    probe: Probe | None = None
    problems: list[str] = field(default_factory=list)
    temperature: float = 0.0
    # which prompt it answers (a digest of what the model was shown): samples of one prompt
    # are draws from one distribution, and mostly repeat its greedy answer (agreement.py)
    prompt: str = ""

    @property
    def greedy(self) -> bool:
        """The model's most likely answer (temperature 0), not a sample."""
        return self.temperature == 0.0

    def authoritative_ok(self) -> bool:
        return self.probe is not None and self.probe.error is None and all(
            r.ok for r in self.probe.results if r.source in AUTHORITATIVE)

    def score(self) -> tuple[int, int, int]:
        if self.probe is None or self.problems:
            return (0, 0, -self.attempt)
        return (self.probe.score(sources=AUTHORITATIVE), self.probe.score(), -self.attempt)


def from_reply(n: Nodes, s: FeatureState, i: int, reply: Any,
               focus: tuple[str, set[str]] | None, acc: dict[str, Any], scratch: Path,
               skel: skeleton.Skeleton) -> Candidate:
    """The reply applied as edits, linted and probed on every case."""
    ws = n.env.workspace(s)
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
    planned = next((f for f in [*(p for _, p in skel.stubs), *planned_files(s)]
                    if f.endswith(".py") and not is_test(f)), None)
    protected = {acc["path"]: "written by shipyard from the acceptance criteria; change the "
                              "code, not this test"} if acc["cases"] else {}
    # Tests are G3's job: the Implementer's own test files and test functions are dropped
    # (a 0.5B model adds them unasked, and they are where it runs out of tokens).
    blocks = [b for b in blocks
              if not (b.path and is_test(b.path) and b.path not in protected)]
    keep = frozenset(named(s["feature"]))
    blocks = [replace(b, code=without_tests(b.code, keep | _defined(ws.path, b.path or planned)))
              for b in blocks]
    if focus:  # shown one function, the model also "fixes" its neighbours: those edits go
        blocks = in_focus(blocks, focus, planned, skel.files.get(focus[0])
                           or existing(ws.path, focus[0]) or "")
    applied = apply_edits(blocks, lambda p: skel.files[p] if p in skel.files
                          else existing(ws.path, p), default_path=planned, protected=protected)
    if applied.problems:
        return Candidate(attempt=i, files=applied.files, problems=applied.problems)
    written = {**skel.files, **applied.files}  # a stub the reply leaves alone is still there
    written = {rel: import_stdlib(expand_star_imports(text, existing(ws.path, rel) or ""))
               if rel.endswith(".py") else text for rel, text in written.items()}
    base = {rel: ws.git.run("show", f"{s['base_sha']}:{rel}", check=False) for rel in written}
    if missing := _missing(ws.path, s["feature"], written, base):
        return Candidate(attempt=i, files=written, problems=missing)
    fixed, lint = fix_and_lint(ws.path, written)
    cand = Candidate(attempt=i, files=fixed, problems=lint)
    if not lint:
        cand.probe = probing.probe(n, s, fixed, acc, scratch / f"a{i}")
        if cand.probe.error:
            cand.problems = [cand.probe.error]
        elif cand.authoritative_ok():
            cand.problems = probing.empty_crashes(
                n, s, fixed, acc, scratch / f"z{i}",
                "\n".join([s["feature"], *base.values(), *skel.files.values()])
            ) or probing.ignores_input(n, s, cand, acc, scratch / f"k{i}")
    return cand


def _missing(root: Path, feature: str, files: dict[str, str],
             base: dict[str, str]) -> list[str]:
    """What makes a candidate no change at all: its files are as they were at the base, or
    a new function the request names (`slugify(text)`, not `os.system(`) is defined nowhere.
    (A fix round may resend the code it already committed: that is still a change.)"""
    if all(base.get(rel) == text for rel, text in files.items()):
        return ["your reply changes nothing: add or change the code the request asks for"]
    names = named(feature)
    py = [rel for rel in files if rel.endswith(".py")]
    defined = set().union(*(defs(files[rel]) for rel in py)) if py else set()
    stubs = set().union(*(skeleton.stubbed(files[rel]) for rel in py)) if py else set()
    marked = set().union(*(skeleton.placeholders(files[rel]) for rel in py)) if py else set()
    new = {n for n in names - defined if not defined_in_repo(root, n, skip=set(files))}
    return ([f"`{n}` is not defined anywhere: write it where the request says"
             for n in sorted(new)]
            + [f"`{n}` still raises NotImplementedError: write its body" for n in
               sorted(names & stubs)]
            + [f"`{n}` is a placeholder (its comment says so): write the real body" for n in
               sorted((names & marked) - stubs)])


def _defined(root: Path, rel: str | None) -> frozenset[str]:
    """The top-level names the file at `rel` already defines (none for a new file)."""
    return frozenset(defs(existing(root, rel) or "")) if rel else frozenset()
