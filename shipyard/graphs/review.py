"""G5 reviews: who reviews (decided by code), and which findings count (grounded ones).

- **Scope by code, not by a model.** Security and Test always review. SRE,
  Governance and FinOps review only a diff their concern touches (I/O and
  concurrency; AI or personal data; paid services and model calls) — the
  blueprint's scope notes. Otherwise the review is recorded as not applicable,
  with the reason, and no model is called.
- **Grounded findings.** A finding counts when it cites a file of the diff, a
  line inside one of its hunks (new side) and a rule of the role's checklist;
  `tool-finding` must also match a finding of a failing check. A block with no
  grounded finding is kept as a note for the human, not a block.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from ..runtime.repomap import is_test_path
from .evidence import evidence_for

__all__ = ["DiffMap", "applicability", "block_reasons", "ground_review", "parse_diff",
           "uncoverable", "unrunnable"]

ALWAYS = ("security", "test")
_SLACK = 2  # lines around a hunk a finding may cite (models count lines loosely)

_AI = r"\b(openai|anthropic|litellm|langchain|transformers|torch|tensorflow|sklearn|llama_cpp|" \
      r"ollama|cohere|mistralai|vertexai|genai)\b"
_PAID = r"\b(boto3|botocore|google\.cloud|azure|stripe|twilio|sendgrid|requests|httpx|aiohttp|" \
        r"urllib\.request|urlopen)\b"
_PERSONAL = r"\b(e-?mail|phone|address|birth|dob|ssn|social.security|passport|gender|" \
            r"ethnicity|salary|credit.?card|iban|ip_?address|geo|latitude|longitude|health|" \
            r"password|national.id)\b"
_OPS = r"\b(subprocess|socket|threading|multiprocessing|asyncio|requests|httpx|urllib|" \
       r"aiohttp|open\(|logging|time\.sleep|while True|retry|os\.environ|signal|sqlite3|" \
       r"shutil|tempfile)\b"
_OPS_FILES = re.compile(r"(^|/)(Dockerfile|docker-compose[^/]*|[^/]+\.(ya?ml|toml|cfg|ini|conf))$")

_SCOPE: dict[str, tuple[str, str]] = {
    "finops": (_PAID + "|" + _AI,
               "the diff adds no model, cloud or paid-service calls"),
    "governance": (_AI + "|" + _PERSONAL,
                   "the diff adds no AI usage and touches no personal data"),
    "sre": (_OPS, "the diff adds no I/O, networking, concurrency, logging or configuration"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class DiffMap:
    """New-side line ranges of each file's hunks, the added lines' text, each file's
    new-side lines by number (added and context), and how many lines each file lost."""

    hunks: dict[str, list[tuple[int, int]]]
    added: str
    lines: dict[str, dict[int, str]] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    gone: str = ""  # the removed lines' text

    def contains(self, path: str | None, line: int | None) -> bool:
        if not path or line is None:
            return False
        path = _norm(path)
        return any(start - _SLACK <= line <= end + _SLACK
                   for start, end in self.hunks.get(path, []))


def parse_diff(diff: str) -> DiffMap:
    hunks: dict[str, list[tuple[int, int]]] = {}
    added: list[str] = []
    lines: dict[str, dict[int, str]] = {}
    removed: dict[str, int] = {}
    gone: list[str] = []
    current: str | None = None
    old_path: str | None = None
    at = 0  # the new-side number of the next context or added line
    for line in diff.splitlines():
        if line.startswith("--- "):
            source = line[4:].strip()
            old_path = None if source == "/dev/null" else _norm(source.removeprefix("a/"))
        elif line.startswith("+++ "):
            target = line[4:].strip()
            current = None if target == "/dev/null" else _norm(target.removeprefix("b/"))
            if current is None and old_path:  # a deleted file: its lines are all removed
                current = old_path
        elif line.startswith("@@") and current is not None:
            m = re.search(r"\+(\d+)(?:,(\d+))?", line)
            if m:
                start, count = int(m.group(1)), int(m.group(2) or "1")
                hunks.setdefault(current, []).append((start, start + max(count, 1) - 1))
                at = start
        elif current is None:
            continue
        elif line.startswith("+"):
            added.append(line[1:])
            lines.setdefault(current, {})[at] = line[1:]
            at += 1
        elif line.startswith("-"):
            removed[current] = removed.get(current, 0) + 1
            gone.append(line[1:])
        elif line.startswith(" "):
            lines.setdefault(current, {})[at] = line[1:]
            at += 1
    return DiffMap(hunks=hunks, added="\n".join(added), lines=lines, removed=removed,
                   gone="\n".join(gone))


def _norm(path: str) -> str:
    path = path.strip().strip('"')
    while path.startswith("./"):
        path = path[2:]
    return path


def applicability(role: str, diff: DiffMap, *, scoped: bool = True) -> str | None:
    """None when `role` must review this diff; otherwise why it is not applicable."""
    if not scoped or role in ALWAYS or role not in _SCOPE:
        return None
    pattern, reason = _SCOPE[role]
    if re.search(pattern, diff.added, re.IGNORECASE):
        return None
    if role == "sre" and any(_OPS_FILES.search(p) for p in diff.hunks):
        return None
    return reason


def ground_review(review: dict[str, Any], diff: DiffMap, checks: list[dict[str, Any]],
                  fixed: Collection[str] = (), untested: Collection[str] = ()) -> dict[str, Any]:
    """The review with each finding marked grounded or not, and the verdict that counts.

    A finding is grounded when it cites a file and a line of the diff whose text shows what
    its rule is about (graphs/evidence.py). `fixed` are files shipyard itself wrote (G3's
    acceptance tests): the Implementer may not change them, so a finding there could only
    send the fix loop round in circles; it is kept as a note for the human, who sees those
    tests at G6. `untested` names the functions the change defines that no test mentions."""
    failing = {(_norm(f.get("path") or ""))
               for c in checks if c.get("status") in ("fail", "error")
               for f in c.get("findings", [])}
    failing_tests = any(c.get("name") == "tests" and c.get("status") == "fail" for c in checks)
    fixed = {_norm(p) for p in fixed}
    findings = []
    for f in review.get("findings", []):
        path, line, why = _norm(f.get("path") or ""), f.get("line"), None
        if not diff.contains(path, line):
            why = "it cites no line of the diff"
        elif f.get("rule") == "tool-finding":
            why = None if path in failing else "no failing check reports this file"
        elif path in fixed:
            why = "shipyard wrote this file at G3; the Implementer may not change it"
        elif (names := _code_names(f.get("message") or "")) and not any(
                re.search(rf"\b{re.escape(nm)}\b", diff.added + "\n" + diff.gone)
                for nm in names):
            why = f"it is about {', '.join(sorted(names))}, which the diff does not change"
        else:
            why = evidence_for(str(f.get("rule")), path, int(line), diff.lines.get(path, {}),
                               slack=_SLACK, is_test=is_test_path(path),
                               removed=diff.removed.get(path, 0), failing_tests=failing_tests,
                               untested=untested)
        findings.append({**f, "grounded": why is None, **({"why_not": why} if why else {})})
    grounded = [f for f in findings if f["grounded"]]
    verdict = review["verdict"]
    if verdict == "block" and not grounded:
        verdict = "approve"  # an ungrounded block is a note for the human, not a block
        note = ("block not counted: no finding cites a line of the Implementer's diff that "
                "shows what its rule is about")
    else:
        note = ""
    return {**review, "findings": findings, "model_verdict": review["verdict"],
            "verdict": verdict, "note": note}


def _code_names(message: str) -> set[str]:
    """The identifiers a finding names in backticks (`normalize_whitespace`, `f()`),
    without Python's keywords and builtins. Seen on `make demo`: the Docs reviewer blocked
    on "`normalize_whitespace` has been updated", citing a context line beside the hunk,
    when the diff never touched it."""
    names = {m.group(1).split(".")[-1]
             for m in re.finditer(r"`([A-Za-z_][\w.]*)(?:\(\))?`", message)}
    return {n for n in names if not keyword.iskeyword(n) and n not in _BUILTINS}


_BUILTINS = frozenset(dir(builtins))


def unrunnable(checks: list[dict[str, Any]]) -> list[str]:
    """Blocking checks that could not run because their tool is missing here, each with its
    fix: nothing the Implementer writes changes that, so a fix round would only spend model
    time (a benchmark without ruff on PATH spent two rounds, ~3 minutes, on it)."""
    return [f"check {c['name']} could not run: {c['findings'][0]['message']}"
            for c in checks if c["blocking"] and c["status"] == "error" and c.get("findings")
            and all(f["rule"].endswith(".tool_missing") for f in c["findings"])]


# The change lowered coverage against the base (a minimum the base already misses is not
# the change's doing, and not this rule's).
_COVERAGE = "tests.coverage-drop"


def uncoverable(checks: list[dict[str, Any]], reviews: dict[str, dict[str, Any]],
                refusals: list[str], acceptance: dict[str, Any]) -> str | None:
    """Why a fix round cannot help when coverage is the only block and no acceptance case is
    left to cover the new code: tests are G3's job, and the Implementer's are dropped, so
    another round only spends model time (HumanEval 38 `decode_cyclic`, no documented
    example and no usable proposed case: two rounds, the same coverage finding each time).
    None when anything else blocks too (`block_reasons` without the coverage checks), or a
    case remains."""
    live = [c for c in acceptance.get("cases", []) if c not in acceptance.get("disputed", [])]
    coverage = [c for c in checks if c["blocking"] and c["status"] in ("fail", "error")
                and c.get("findings") and all(f["rule"] == _COVERAGE for f in c["findings"])]
    if live or not coverage or block_reasons([c for c in checks if c not in coverage],
                                             reviews, refusals):
        return None
    where = next((_at(f) for c in coverage for f in c["findings"] if f.get("path")), "")
    return (f"the new code{' at ' + where.rstrip(': ') if where else ''} is covered by no test, "
            f"and G3 has no acceptance case to cover it (no example in the request or the "
            f"docstrings, and no usable case of the Test Engineer's). The Implementer may not "
            f"write tests, so a fix round cannot help: add an example to the request, such as "
            f"\"f(2) returns 4\", and run the feature again")


def block_reasons(checks: list[dict[str, Any]], reviews: dict[str, dict[str, Any]],
                  refusals: list[str]) -> list[str]:
    """Why G5 blocks. Tool evidence first: an LLM approval never overrides a failing check."""
    reasons = []
    for c in checks:
        if c["blocking"] and c["status"] in ("fail", "error"):
            detail = "; ".join(_at(f) + f["message"][:160] for f in c.get("findings", [])[:3])
            reasons.append(f"check {c['name']} {c['status']}: {detail or c.get('summary', '')}")
    reasons += [f"security: {r}" for r in refusals]
    for role in ALWAYS:  # dual review: both must approve
        if role not in reviews:
            reasons.append(f"{role} review missing (dual review requires it)")
    for role, r in sorted(reviews.items()):
        if r["verdict"] == "block":
            found = "; ".join(f"{f.get('path')}:{f.get('line')} [{f.get('rule')}] {f['message']}"
                              for f in r.get("findings", []) if f.get("grounded"))
            reasons.append(f"{role} review blocks: {(found or r['summary'])[:300]}")
    return reasons


def _at(finding: dict[str, Any]) -> str:
    """`path:line ` where a finding has a place; nothing for one about the whole check (a
    missing tool read ": : ruff is not installed")."""
    if not finding.get("path"):
        return ""
    return f"{finding['path']}:{finding.get('line') or ''} "
