"""Regenerate the reviewer eval data (shipyard/evals/data/*.jsonl) from real commits.

    python scripts/build_eval_data.py MIRROR_DIR

MIRROR_DIR holds bare or normal git clones named `owner+name/repo` (or `owner+name`)
of the repositories in COMMITS. Known-good cases are those merged commits as they
were; known-bad cases are the same commits with one planted defect, derived here
deterministically (no randomness), so the data can be rebuilt and audited. The
tool-check evidence shown to reviewers is what shipyard's checks report for such a
change (bandit for shell injection, detect-secrets for a hard-coded credential,
pytest for broken logic); it is written here, not measured, and says so in SOURCES.md.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "shipyard" / "evals" / "data"

# (repository, commit, licence): small merged commits touching code and its tests.
COMMITS = [
    ("python-humanize/humanize", "823ad6096e1e5ba82ea876ce761fc2efebd76157", "MIT"),
    ("python-humanize/humanize", "7574e0cc377d80db0d2756fc2c5e0b8799a6f8b4", "MIT"),
    ("python-humanize/humanize", "c2c410c1521a3b1eb3efef52f3b06c2e42f7b92b", "MIT"),
    ("python-humanize/humanize", "717518400d6709cf7e9bebe4a9424eb3b1ebd60d", "MIT"),
    ("python-humanize/humanize", "906a38cb957e37ada2cb3574102b56a3dbc5e4e9", "MIT"),
    ("python-humanize/humanize", "11e62eeedb8990298c3612af82376dc2344d24f8", "MIT"),
    ("python-humanize/humanize", "647e7312544b29ffdca6bd821a5ce98f29a49156", "MIT"),
    ("more-itertools/more-itertools", "0e6acdf9b60765ecf9634d6f5c132ac1bebc616b", "MIT"),
    ("more-itertools/more-itertools", "958990e22c4ab6daf434d89cf2b86d7a4a7a9e3c", "MIT"),
    ("more-itertools/more-itertools", "71b46b0df4c1a6e4d4d1ee2c1e6f1e7a5e0c1d2b", "MIT"),
    ("benjaminp/six", "a611f60dc73d9df64fd8ebcec1daf9f7827e29db", "MIT"),
    ("benjaminp/six", "5ddcb9e038680badbeef5a560311f16099b7e9ea", "MIT"),
]

PASSING = [
    {"name": "tests", "status": "pass", "blocking": True, "findings": []},
    {"name": "lint", "status": "pass", "blocking": False, "findings": []},
    {"name": "sast", "status": "pass", "blocking": True, "findings": []},
    {"name": "secrets", "status": "pass", "blocking": True, "findings": []},
]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def resolve(repo: Path, commit: str) -> str:
    """The full sha of `commit`; the table's shas may be abbreviated by hand."""
    return git(repo, "rev-parse", f"{commit[:7]}^{{commit}}").strip()


def find_mirror(root: Path, name: str) -> Path:
    for cand in (root / name.replace("/", "+") / "repo", root / name.replace("/", "+")):
        if cand.exists():
            return cand
    raise SystemExit(f"no clone of {name} under {root}")


class Commit:
    def __init__(self, repo: Path, name: str, sha: str, licence: str) -> None:
        self.repo, self.name, self.licence = repo, name, licence
        self.sha = resolve(repo, sha)
        self.subject = git(repo, "log", "-1", "--format=%s", self.sha).strip()
        self.subject = re.sub(r"\s*\(#\d+\)$", "", self.subject)
        self.paths = [p for p in git(repo, "show", "--format=", "--name-only", self.sha).split()
                      if p.endswith(".py")]
        self.tests = [p for p in self.paths if "test" in p.rsplit("/", 1)[-1]]
        self.code = [p for p in self.paths if p not in self.tests]

    def text(self, path: str, rev: str) -> str:
        try:
            return git(self.repo, "show", f"{rev}:{path}")
        except subprocess.CalledProcessError:
            return ""

    def old(self, path: str) -> str:
        return self.text(path, f"{self.sha}^")

    def new(self, path: str) -> str:
        return self.text(path, self.sha)

    def diff(self, replaced: dict[str, str] | None = None) -> str:
        """The commit's diff, with some files' new content replaced (the planted defect)."""
        replaced = replaced or {}
        if not replaced:
            return git(self.repo, "diff", "--no-color", f"{self.sha}^", self.sha, "--",
                       *self.paths)
        parts = []
        for path in self.paths:
            old, new = self.old(path), replaced.get(path, self.new(path))
            lines = difflib.unified_diff(old.splitlines(keepends=True),
                                         new.splitlines(keepends=True),
                                         f"a/{path}", f"b/{path}", n=3)
            body = "".join(lines)
            if body:
                parts.append(f"diff --git a/{path} b/{path}\n{body}")
        return "".join(parts)

    def source(self) -> dict[str, str]:
        return {"repo": self.name, "commit": self.sha, "license": self.licence,
                "url": f"https://github.com/{self.name}/commit/{self.sha}"}


def first_changed_line(old: str, new: str) -> int:
    """1-based line of the new file where the commit's first change is."""
    sm = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    for tag, _i1, _i2, j1, _j2 in sm.get_opcodes():
        if tag != "equal":
            return j1 + 1
    return 1


def enclosing_function(tree: ast.Module, line: int) -> ast.FunctionDef | None:
    best = None
    for node in ast.walk(tree):
        inside = isinstance(node, ast.FunctionDef) and node.lineno <= line <= (node.end_lineno or 0)
        if inside and (best is None or node.lineno > best.lineno):
            best = node
    return best


def body_start(fn: ast.FunctionDef) -> ast.stmt:
    first = fn.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
            and isinstance(first.value.value, str) and len(fn.body) > 1:
        return fn.body[1]
    return first


def insert_in_function(text: str, line: int, make: callable) -> tuple[str, int]:
    """Insert the lines `make(indent, arg)` at the top of the function around `line`."""
    tree = ast.parse(text)
    fn = enclosing_function(tree, line)
    lines = text.splitlines(keepends=True)
    if fn is None:  # a module-level change: plant at that line
        at, indent, arg = line - 1, "", "value"
    else:
        stmt = body_start(fn)
        at = stmt.lineno - 1
        indent = re.match(r"\s*", lines[at]).group(0)
        args = [a.arg for a in fn.args.args if a.arg not in ("self", "cls")]
        arg = args[0] if args else "value"
    planted = make(indent, arg)
    lines[at:at] = [p + "\n" for p in planted]
    return "".join(lines), at + 1


def module_insert(text: str, line: int, planted: list[str]) -> tuple[str, int]:
    """Insert module-level lines just before the top-level statement holding `line`."""
    tree = ast.parse(text)
    at = 0
    for node in tree.body:
        if node.lineno <= line:
            at = node.lineno - 1
            if getattr(node, "decorator_list", None):
                at = node.decorator_list[0].lineno - 1
    lines = text.splitlines(keepends=True)
    lines[at:at] = [p + "\n" for p in planted] + ["\n"]
    return "".join(lines), at + 1


def finding(name: str, rule: str, path: str, line: int, message: str,
            severity: str = "high") -> list[dict]:
    return [dict(c, status="fail", findings=[{"rule": rule, "severity": severity, "path": path,
                                              "line": line, "message": message}])
            if c["name"] == name else dict(c) for c in PASSING]


# -- planted defects: (new files, line, rule, evidence) ---------------------------------------
def plant_injection(c: Commit) -> tuple[str, dict[str, str], int, list[dict]]:
    path = c.code[0]
    new = c.new(path)

    def make(ind: str, arg: str) -> list[str]:
        return [f"{ind}import subprocess",
                f'{ind}subprocess.run("logger -t humanize " + str({arg}), shell=True)']

    text, line = insert_in_function(new, first_changed_line(c.old(path), new), make)
    return path, {path: text}, line + 1, finding(
        "sast", "B602", path, line + 1, "subprocess call with shell=True identified, "
        "security issue.")


def plant_secret(c: Commit, n: int) -> tuple[str, dict[str, str], int, list[dict]]:
    path = c.code[0]
    new = c.new(path)
    value = ("AKIA" + "Q7XK2M9PLR4TZW8N")[:20] if n % 2 else "prod-Adm1n!pass-2024-xyz"
    name = "_AWS_ACCESS_KEY_ID" if n % 2 else "_ADMIN_PASSWORD"
    text, line = module_insert(new, first_changed_line(c.old(path), new), [f'{name} = "{value}"'])
    kind = "AWS Access Key" if n % 2 else "Secret Keyword"
    return path, {path: text}, line, finding("secrets", kind, path, line,
                                             f"{kind} committed in source")


_FLIPS = [(" >= ", " < "), (" <= ", " > "), (" < ", " >= "), (" > ", " <= "), (" == ", " != "),
          (" + ", " - "), (" - ", " + ")]


def plant_broken_logic(c: Commit) -> tuple[str, dict[str, str], int, list[dict]] | None:
    path = c.code[0]
    old, new = c.old(path), c.new(path)
    old_set = set(old.splitlines())
    lines = new.splitlines(keepends=True)
    for i, ln in enumerate(lines):
        code = ln.split("#", 1)[0]
        if ln.strip() in old_set or not code.strip() or code.strip().startswith(('"', "'")):
            continue
        for a, b in _FLIPS:
            if a in code and '"' not in code.split(a, 1)[0][-1:]:
                lines[i] = ln.replace(a, b, 1)
                test = c.tests[0] if c.tests else "tests"
                return path, {path: "".join(lines)}, i + 1, finding(
                    "tests", "pytest", test, 1, f"FAILED {test}: AssertionError (1 failed, "
                    f"the rest passed)")
    return None


def plant_deleted_test(c: Commit) -> tuple[str, dict[str, str], int, list[dict]] | None:
    if not c.tests:
        return None
    path = c.tests[0]
    new = c.new(path)
    tree = ast.parse(new)
    old_names = {n.name for n in ast.walk(ast.parse(c.old(path) or "\n"))
                 if isinstance(n, ast.FunctionDef)}
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and
             n.name.startswith("test") and n.name in old_names]
    if not tests:
        return None
    fn = tests[-1]
    start = (fn.decorator_list[0].lineno if fn.decorator_list else fn.lineno) - 1
    lines = new.splitlines(keepends=True)
    del lines[start:fn.end_lineno]
    return path, {path: "".join(lines)}, max(1, start), [dict(x) for x in PASSING]


def plant_weak_assertion(c: Commit) -> tuple[str, dict[str, str], int, list[dict]] | None:
    if not c.tests:
        return None
    path = c.tests[0]
    lines = c.new(path).splitlines(keepends=True)
    for i, ln in enumerate(lines):
        m = re.match(r"(\s*)(?:assert |self\.assertEqual\()(.+?)(?: == |, )(.+?)\)?\s*$", ln)
        if m and ("assert " in ln and " == " in ln or "assertEqual(" in ln):
            lines[i] = f"{m.group(1)}assert {m.group(2).strip()} is not None\n"
            return path, {path: "".join(lines)}, i + 1, [dict(x) for x in PASSING]
    return None


# -- the other reviewers' concerns: one plant each, in the changed function ---------------------
def plant_lines(c: Commit, make: callable, extra_import: str | None = None) -> tuple[str, dict[str, str], int]:
    path = c.code[0]
    new = c.new(path)
    text, line = insert_in_function(new, first_changed_line(c.old(path), new), make)
    return path, {path: text}, line


CONCERNS = {
    "sre": [
        ("unbounded", lambda i, a: [f"{i}while True:  # retry until the cache answers",
                                    f"{i}    if _cache_ready({a}):", f"{i}        break"]),
        ("resource-leak", lambda i, a: [f'{i}_log = open("/tmp/humanize.log", "a")',
                                        f"{i}_log.write(repr({a}))"]),
        ("timeout", lambda i, a: [f"{i}import urllib.request",
                                  (f'{i}urllib.request.urlopen("http://stats.internal/hit?v=" '
                                  f"+ str({a}))")]),
    ],
    "governance": [
        ("personal-data", lambda i, a: [f"{i}import logging",
                                        (f'{i}logging.info("user email=%s phone=%s value=%s", '
                                        f'_user.email, _user.phone, {a})')]),
        ("ai-usage", lambda i, a: [f"{i}import openai",
                                   (f'{i}openai.chat.completions.create(model="gpt-4o", messages='
                                   f'[{{"role": "user", "content": str({a})}}])')]),
        ("personal-data", lambda i, a: [(f"{i}_track(ip_address=_request.remote_addr, "
                                        f"birth_date=_user.birth, value={a})")]),
    ],
    "finops": [
        ("model-calls", lambda i, a: [f"{i}import openai",
                                     f"{i}for _ in range(100):",
                                     (f'{i}    openai.chat.completions.create(model="gpt-4o", '
                                     f'messages=[{{"role": "user", "content": str({a})}}])')]),
        ("paid-service", lambda i, a: [f"{i}import boto3",
                                       (f'{i}boto3.client("s3").put_object(Bucket="logs", '
                                       f'Key=str({a}), Body=b"x")')]),
        ("paid-service", lambda i, a: [f"{i}import requests",
                                       (f'{i}requests.post("https://api.stripe.com/v1/charges", '
                                       f'data={{"amount": {a}}})')]),
    ],
}


def docs_plant(c: Commit) -> tuple[str, dict[str, str], int]:
    path = c.code[0]
    new = c.new(path)
    planted = ["def format_value(value, precision=2):",
               "    return f\"{value:.{precision}f}\""]
    text, line = module_insert(new, first_changed_line(c.old(path), new), planted)
    return path, {path: text}, line


def case(role: str, cid: str, c: Commit, diff: str, checks: list[dict], label: str,
         defect: str | None, rule: str | None, path: str | None, line: int | None) -> dict:
    expect = {"verdict": "block" if label == "bad" else "approve"}
    if rule:
        expect |= {"rules": [rule], "path": path, "line": line}
    findings = [] if label == "good" else [
        {"rule": rule, "severity": "high", "path": path, "line": line,
         "message": f"planted {defect}: see line {line}"}]
    reference = {"verdict": expect["verdict"],
                 "summary": "No problem in this diff." if label == "good" else
                 f"Blocks: {defect} at {path}:{line}.", "findings": findings}
    return {"id": cid, "agent": role, "task": "review", "label": label, "defect": defect,
            "input": {"feature": c.subject, "acceptance_criteria": [c.subject],
                      "checks": checks, "diff": diff, "files": c.paths},
            "expect": expect, "reference": reference, "source": c.source()}


def build(root: Path) -> dict[str, list[dict]]:
    commits = [Commit(find_mirror(root, n), n, s, lic) for n, s, lic in COMMITS]
    out: dict[str, list[dict]] = {r: [] for r in ("security", "test", "sre", "governance",
                                                  "finops", "docs")}

    def short(c: Commit) -> str:
        return f"{c.name.split('/')[1]}-{c.sha[:7]}"

    for i, c in enumerate(commits[:10]):  # security + test: 10 good and 10 planted each
        for role in ("security", "test"):
            out[role].append(case(role, f"{role}-good-{short(c)}", c, c.diff(), PASSING,
                                  "good", None, None, None, None))
        if i < 5:
            path, files, line, ev = plant_injection(c)
            out["security"].append(case("security", f"security-injection-{short(c)}", c,
                                        c.diff(files), ev, "bad", "injection", "injection",
                                        path, line))
        else:
            path, files, line, ev = plant_secret(c, i)
            out["security"].append(case("security", f"security-secret-{short(c)}", c,
                                        c.diff(files), ev, "bad", "secret", "secret", path, line))
    plants = [("broken-logic", "failing-test", plant_broken_logic),
              ("deleted-test", "deleted-test", plant_deleted_test),
              ("weakened-check", "weak-assertion", plant_weak_assertion)]
    k = 0
    for c in commits:  # test: the planted kinds in turn, skipping commits a kind cannot apply to
        if len([x for x in out["test"] if x["label"] == "bad"]) >= 10:
            break
        for offset in range(3):
            defect, rule, fn = plants[(k + offset) % 3]
            got = fn(c)
            if got:
                path, files, line, ev = got
                out["test"].append(case("test", f"test-{defect}-{short(c)}", c, c.diff(files),
                                        ev, "bad", defect, rule, path, line))
                k += offset + 1
                break
    for role, plants_of in CONCERNS.items():
        for c in commits[10:12]:
            out[role].append(case(role, f"{role}-good-{short(c)}", c, c.diff(), PASSING, "good",
                                  None, None, None, None))
        for c, (rule, make) in zip(commits[:3], plants_of, strict=True):
            path, files, line = plant_lines(c, make)
            out[role].append(case(role, f"{role}-{rule}-{short(c)}", c, c.diff(files), PASSING,
                                  "bad", rule, rule, path, line))
    for c in commits[10:12]:
        out["docs"].append(case("docs", f"docs-good-{short(c)}", c, c.diff(), PASSING, "good",
                                None, None, None, None))
    for c in commits[:3]:
        path, files, line = docs_plant(c)
        out["docs"].append(case("docs", f"docs-undocumented-{short(c)}", c, c.diff(files),
                                PASSING, "bad", "undocumented-api", "missing-docstring",
                                path, line))
    return out


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    data = build(Path(sys.argv[1]))
    OUT.mkdir(parents=True, exist_ok=True)
    for role, cases in data.items():
        target = OUT / f"{role}.review.jsonl"
        target.write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in cases))
        print(f"{target.relative_to(OUT.parent.parent.parent)}: {len(cases)} cases")


if __name__ == "__main__":
    main()
