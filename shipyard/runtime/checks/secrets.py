"""secrets: detect-secrets on the lines and files the change adds.

Only added lines count: a secret already in the base is the base's problem —
on the same line or anywhere in the base's tree (a generated test plan quoting a
docstring's `"123456789ABCDEF0"` adds no secret) — and one listed in the base's
`.secrets.baseline` has been audited. The head's
baseline is not trusted — a change could list its own secret there. The scan
runs with `--no-verify`: detect-secrets never calls out to check a key.
Secrets always block, whatever the policy.

One heuristic finding is shown, not blocking: a "high-entropy string" made of letters
alone (`count_upper('AbCdEfGhIjKlMnOpQrStUvWx')`, a string function's test input, blocked
HumanEval 98). Generated keys mix in digits: a random 24-character key lacks every digit
about once in 70 (alphanumeric) to once in 150 (base64), far less often when longer; keys with a known shape (AWS, GitHub, Slack, private
keys) and secrets assigned to a `password`/`token` name have detectors of their own, which
still block. Nor does a commit id that pins a revision (`rev: <40 hex digits>` in
.pre-commit-config.yaml, `uses: x@<sha>`): it is shown as a note. Nor does a string that
counts up (`slugify('1234567890abc')`, a Test Engineer's input, blocked `make demo`).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from itertools import pairwise
from pathlib import Path

from .. import gittree
from ..proc import run as run_proc
from ._util import evidence, finish, read_base, tool, tool_error
from .base import CheckContext, CheckResult, Finding

NAME = "secrets"
BASELINE = ".secrets.baseline"


def added_lines(ctx: CheckContext) -> dict[str, set[int]]:
    """Line numbers (at head) each changed file gains in base..head.

    Per file, with `--text --no-textconv`: a `-diff` attribute, a NUL byte or a
    name git would quote cannot hide a file from the scan."""
    return {p: gittree.added_lines(ctx.repo, ctx.base, ctx.head, p) for p in ctx.changed_files}


# detect-secrets skips files by extension (images, fonts, archives); their content is what
# counts, so such files are scanned under a name it reads.
_SKIPPED_EXT = (".png", ".jpg", ".jpeg", ".gif", ".ico", ".webp", ".bmp", ".tif", ".tiff",
                ".pdf", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".svgz", ".gz", ".zip",
                ".tar", ".bz2", ".xz", ".7z", ".mp3", ".mp4", ".mov", ".avi", ".wav", ".webm",
                ".so", ".dll", ".exe", ".bin", ".pyc", ".class", ".jar", ".whl", ".egg")


def _scan_name(path: str) -> str:
    return path + ".scan.txt" if path.lower().endswith(_SKIPPED_EXT) else path


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    added = {p: s for p, s in added_lines(ctx).items() if s and p != BASELINE}
    if not added:
        return finish(NAME, started, [], failed=False, summary="no lines added")
    tree = ctx.scratch / "tree"
    names: dict[str, str] = {}
    items = [e for e in gittree.entries(ctx.repo, ctx.head) if e.path in added]
    for entry, data in gittree.blobs(ctx.repo, items):
        if entry.mode not in ("100644", "100755"):
            continue
        # A copy of the head's blob, NUL bytes dropped (they make scanners treat text as
        # binary); detect-secrets never sees, or touches, the rest of the repository.
        name = _scan_name(entry.path)
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data.replace(b"\0", b""))
        names[name] = entry.path
    if not names:
        return finish(NAME, started, [], failed=False, summary="no files added lines")
    res = run_proc([tool("detect-secrets"), "scan", "--no-verify", "--all-files", "--",
                    *sorted(names)], cwd=tree, timeout=ctx.policy.timeout_s)
    if (err := tool_error(NAME, res)) is not None:
        return err
    if res.returncode != 0 or not res.stdout.strip().startswith("{"):
        return CheckResult(name=NAME, status="error", duration_s=res.duration_s,
                           summary=f"detect-secrets exited {res.returncode}: "
                                   f"{res.stderr.strip()[-300:]}")
    report = ctx.scratch / "detect-secrets.json"
    report.write_text(res.stdout)
    known = _baseline(ctx)
    findings = []
    for scanned, hits in json.loads(res.stdout).get("results", {}).items():
        path = names.get(scanned, scanned)
        for hit in hits:
            line = hit.get("line_number")
            if line not in added.get(path, ()) or (path, hit["hashed_secret"]) in known:
                continue
            text = _line(tree / scanned, line)
            value = _value(text, hit["hashed_secret"])
            if value and _in_base(ctx, value):
                continue
            findings.append(_finding(hit["type"], path, line, value, text))
    blocking = sum(f.fails for f in findings)
    noted = len(findings) - blocking
    notes = (f", {noted} letters-only or counting-up string(s) or commit id(s) noted"
             if noted else "")
    return finish(NAME, started, findings, failed=blocking > 0,
                  summary=f"{blocking} new secret(s) in {len(names)} file(s){notes}",
                  evidence=(evidence(report),))


def _line(path: Path, number: int) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return lines[number - 1] if 0 < number <= len(lines) else ""


# detect-secrets' entropy heuristics; every other type is a detector of a known shape
_ENTROPY = ("Base64 High Entropy String", "Hex High Entropy String")


# A git commit id pinning a revision: pre-commit's `rev: <sha>`, an action's `uses: x@<sha>`,
# a `git+https://…@<sha>` requirement. The hygiene check asks for exactly these pins, and
# tomli's "Update pre-commit hooks" (f890dd17) was blocked as four new hex secrets.
_REVISION = re.compile(r"(?:\b(?:rev|sha|commit|ref)\s*[:=]\s*[\"']?|@)"
                       r"([0-9a-f]{40}|[0-9a-f]{64})\b")


def _finding(kind: str, path: str, line: int, value: str | None, text: str = "") -> Finding:
    rule = f"secrets.{kind.replace(' ', '-')}"
    if why := _not_a_key(kind, value, text):
        return Finding(rule=rule, severity="low", path=path, line=line, fails=False,
                       message=f"{why}; not blocking — if it is a credential, remove and "
                               f"rotate it")
    return Finding(rule=rule, severity="critical", path=path, line=line,
                   message=f"{kind} added; remove it, rotate it, and load it from the "
                           f"environment or a secret store")


def _not_a_key(kind: str, value: str | None, text: str) -> str | None:
    """Why an entropy finding reads as a commit id or test data rather than a key (the
    module's docstring), or None: every detector of a known shape blocks."""
    if kind not in _ENTROPY or not value:
        return None
    if kind == "Hex High Entropy String" and any(
            m.group(1) == value for m in _REVISION.finditer(text)):
        return (f"a {len(value)}-digit hex string pinning a revision (a commit id, as `rev:` "
                f"or `@` pins it), not a key")
    if _sequential(value):
        return f"{kind} that counts up ({value}): test data, not a generated key"
    if value.isalpha():
        return (f"{kind} of letters only, {len(value)} characters: read as text or test "
                f"data, not a generated key (those carry digits)")
    return None


def _sequential(value: str) -> bool:
    """Whether nearly every character follows the one before it (`1234567890abc`): a
    Test Engineer's sample input (it blocked `make demo`, 2026-12-06), which
    detect-secrets' own sequence filter misses once digits run into letters. In a random
    key a step is +1 about once in 16 (hex) to 64 (base64): 80% of them is never seen."""
    text = value.lower()
    steps = list(pairwise(text))
    up = sum(ord(b) - ord(a) == 1 or (a, b) in (("9", "0"), ("9", "a")) for a, b in steps)
    return len(steps) >= 5 and up >= 0.8 * len(steps)


def _value(line: str, hashed: str) -> str | None:
    """The text detect-secrets hashed (SHA-1) on `line`, found among the line's quoted
    strings and words; None when it is none of them."""
    pieces = re.findall(r"""(["'`])(.*?)\1""", line)
    words = [p for _, p in pieces] + re.findall(r"[^\s\"'`|(),;<>{}\[\]]{6,}", line)
    return next((w for w in words if hashlib.sha1(w.encode()).hexdigest() == hashed), None)


def _in_base(ctx: CheckContext, value: str) -> bool:
    """Whether `value`, a secret's text, is already in the base's tree."""
    res = run_proc(["git", "grep", "-q", "-F", "-e", value, ctx.base, "--"], cwd=ctx.repo,
                   timeout=ctx.policy.timeout_s)
    return res.returncode == 0


def _baseline(ctx: CheckContext) -> set[tuple[str, str]]:
    text = read_base(ctx)(BASELINE)
    if not text:
        return set()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return set()
    return {(path, h["hashed_secret"]) for path, hits in doc.get("results", {}).items()
            for h in hits if "hashed_secret" in h}
