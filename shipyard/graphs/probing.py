"""Running G3's cases against a candidate of G5's inner loop (graphs/build.py), and what
the Implementer is told of the result.

A candidate is probed in a copy of the tree (runtime/probe.py, in the sandbox): on the
acceptance cases, which decide whether it is green, and on inputs near them
(graphs/variants.py), where candidates that pass the same cases show whether they agree.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .acceptance import AUTHORITATIVE
from .hints import hint
from .variants import variants

if TYPE_CHECKING:
    from ..runtime.probe import Probe
    from .build import Candidate
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["behaviour", "case_feedback", "fails_upheld", "probe"]


def probe(n: Nodes, s: FeatureState, files: dict[str, str], acc: dict[str, Any],
          scratch: Path, cases: list[dict[str, Any]] | None = None, **limits: Any) -> Probe:
    from ..runtime.checks._util import target_python
    from ..runtime.probe import copy_tree, probe_cases

    ws = n.env.workspace(s)
    tree = copy_tree(ws.path, ws.git.tracked_files("HEAD"), scratch / "tree")
    for rel, text in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text, encoding="utf-8")
    cases = [{**c, "imports": {k: v for k, v in acc["imports"].items()
                               if re.search(rf"\b{re.escape(k)}\b", c["call"])}}
             for c in (acc["cases"] if cases is None else cases)]
    return probe_cases(tree, cases, scratch=scratch / "out", python=target_python(n.env.root),
                       sandbox=n.env.settings.policy.sandbox, **limits)


def behaviour(n: Nodes, s: FeatureState, c: Candidate, acc: dict[str, Any],
              scratch: Path) -> tuple[str, ...] | None:
    """What `c` returns on inputs near the cases' (graphs/variants.py); None when it could
    not be run (it then has no say in agreement). A slow input is cut short, not waited
    for: `fib(13)` for `fib(12)` must not hold up the loop."""
    calls = variants([case["call"] for case in acc["cases"]])
    if not calls:
        return ()
    ran = probe(n, s, c.files, acc, scratch, [
        {"call": call, "expected": "None", "source": "variant"} for call in calls],
        per_case_s=1, timeout_s=20)
    return None if ran.error else tuple(r.got for r in ran.results)


def fails_upheld(c: Candidate, upheld: AbstractSet[tuple[str, str]]) -> bool:
    return c.probe is not None and any((r.call, r.expected) in upheld
                                       for r in c.probe.failures)


def case_feedback(result: Probe | None,
                  upheld: AbstractSet[tuple[str, str]] = frozenset()) -> list[str]:
    if result is None:
        return []
    if result.error:
        return [result.error]
    # While a documented example fails, only documented examples are shown: the Test
    # Engineer's proposed cases may be wrong, and a 0.5B model chases every line it is given.
    # Then the cases the Test Engineer upheld when asked again (graphs/reask.py) alone.
    documented = [r for r in result.failures if r.source in AUTHORITATIVE]
    confirmed = [r for r in result.failures if (r.call, r.expected) in upheld]
    return [f"{r.call} returned {r.got}, expected {r.expected}"
            + (f" ({h})" if (h := hint(r.got, r.expected)) else "")
            for r in (documented or confirmed or result.failures)[:6]]
