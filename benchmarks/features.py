"""Does the team ship requests written as people write them? Free-form features, end to end.

    python benchmarks/features.py                    # every feature below
    python benchmarks/features.py --only sub,median --json out.json

HumanEval (benchmarks/delivery.py) hands the team a docstring with worked examples. A
person asks for `sub(a, b)` in one line, or asks to change a function that exists. Each
feature here runs on a fresh copy of examples/sample-app — `shipyard run-feature`, every
human gate approved through the CLI as `make demo` does — and what was merged into `main`
is scored by checks of ours that the pipeline never sees (FEATURES: calls and the value or
exception each must give). It reports merged and right, merged but wrong (escaped
defects), not merged; wall time and tokens per feature. The features are ones we tuned
on (2026-12-07); a request of yours is the held-out case.

The baseline, in the same run: the raw model's answer as a person would ask it — one
greedy completion of the request with the function as it is now, or with the module when
the function is new — scored by the same checks, through the same local server.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from delivery import drive, greedy_code, ledger_tokens

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample-app"

# name -> (request, module path, function, checks). A check is (call, expected): the value
# the call must equal, or "raises X" for an exception of type X.
FEATURES: dict[str, tuple[str, str, str, list[tuple[str, object]]]] = {
    "sub": ("Add a function sub(a, b) to textkit/numbers.py that returns a minus b.",
            "textkit/numbers.py", "sub",
            [("sub(5, 3)", 2), ("sub(1, 2)", -1), ("sub(1.5, 2.5)", -1.0), ("sub(-3, -5)", 2),
             ("sub(0, 7)", -7)]),
    "is_even": ("Add is_even(n) to textkit/numbers.py: True when the integer n is even.",
                "textkit/numbers.py", "is_even",
                [("is_even(4)", True), ("is_even(7)", False), ("is_even(0)", True),
                 ("is_even(-3)", False), ("is_even(-8)", True)]),
    "median": (("Add median(values) to textkit/numbers.py: the middle value of the sorted "
               "values, or the mean of the two middle values when there is an even number "
               "of them; raise ValueError when values is empty."),
               "textkit/numbers.py", "median",
               [("median([3, 1, 2])", 2), ("median([4, 1, 3, 2])", 2.5), ("median([5])", 5),
                ("median([-1, -2, -3])", -2), ("median([])", "raises ValueError")]),
    "palindrome": (("Add is_palindrome(text) to textkit/strings.py: True when text reads the "
                   "same backwards, ignoring case and any character that is not a letter or "
                   "digit. Example: is_palindrome('A man, a plan, a canal: Panama') == True"),
                   "textkit/strings.py", "is_palindrome",
                   [("is_palindrome('A man, a plan, a canal: Panama')", True),
                    ("is_palindrome('race a car')", False), ("is_palindrome('')", True),
                    ("is_palindrome('No lemon, no melon')", True), ("is_palindrome('ab')", False)]),
    "initials": (("Add initials(name) to textkit/strings.py: the first letter of each word of "
                 "name, upper-cased and joined, e.g. initials('ada lovelace') == 'AL'."),
                 "textkit/strings.py", "initials",
                 [("initials('ada lovelace')", "AL"), ("initials('Grace  Brewster Hopper')", "GBH"),
                  ("initials('x')", "X"), ("initials('')", "")]),
    "count_words": (("Change count_words(text) in textkit/strings.py so that tokens with no "
                    "letter or digit are not counted: count_words('a - b') == 2."),
                    "textkit/strings.py", "count_words",
                    [("count_words('a - b')", 2), ("count_words('hello, world')", 2),
                     ("count_words('')", 0), ("count_words('... --- ...')", 0),
                     ("count_words('one two three')", 3)]),
    "lower_whitespace": (("Change normalize_whitespace(text) in textkit/strings.py so that it "
                         "also lower-cases the text: normalize_whitespace('  Hello   World ') "
                         "== 'hello world'."),
                         "textkit/strings.py", "normalize_whitespace",
                         [("normalize_whitespace('  Hello   World ')", "hello world"),
                          ("normalize_whitespace('A\\tB\\nC')", "a b c"),
                          ("normalize_whitespace('')", "")]),
}


def fresh_copy(root: Path, name: str) -> Path:
    repo = root / name
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", ".shipyard", "*.egg-info"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=bench", "-c", "user.email=bench@example.com",
                  "commit", "-q", "-m", "initial"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    return repo


# Run in a child process beside the scored module: each check's call, and whether it gave
# the value (True is no 1) or raised the exception the check names.
CHECKER = """
import json, sys
out = []
for call, want in json.loads(sys.argv[1]):
    try:
        got = eval(call)
    except Exception as e:
        out.append([want == "raises " + type(e).__name__, "raises " + type(e).__name__])
        continue
    same = got is want if isinstance(want, bool) or isinstance(got, bool) else got == want
    out.append([same and not str(want).startswith("raises "), repr(got)])
print(json.dumps(out))
"""


def score(code: str, checks: list[tuple[str, object]]) -> tuple[int, list[str]]:
    """How many checks `code` (a module's source) passes, and what each failing one gave."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "scored.py"
        f.write_text(code + "\n\n" + CHECKER)
        try:
            res = subprocess.run([sys.executable, str(f), json.dumps(checks)], cwd=d, timeout=20,
                                 capture_output=True, text=True, check=False)
            out = json.loads(res.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            return 0, ["the module did not run"]
    return sum(ok for ok, _ in out), [f"{c} -> {got}" for (c, _), (ok, got) in zip(checks, out)
                                      if not ok]


def git_show(repo: Path, ref: str, path: str) -> str | None:
    res = subprocess.run(["git", "-C", str(repo), "show", f"{ref}:{path}"],
                         capture_output=True, text=True, check=False)
    return res.stdout if res.returncode == 0 else None


def raw_answer(repo: Path, request: str, path: str, fn: str, base_url: str) -> tuple[str, str]:
    """(the module with the raw model's answer appended — a later def replaces an earlier —,
    the answer): one greedy completion of the request and the function as it is now, or the
    module when the function is new (as a person would paste it), no pipeline. Shown the
    module, the 0.5B model mostly gives it back without the new function."""
    source = (repo / path).read_text()
    current = next((ast.get_source_segment(source, n) for n in ast.parse(source).body
                    if isinstance(n, ast.FunctionDef) and n.name == fn), None)
    shown = (f"The function now:\n```python\n{current}\n```" if current else
             f"The module:\n```python\n{source}```")
    code = greedy_code(base_url, [{"role": "user", "content": (
        f"{request}\n\n{shown}\n\nReply with the whole function `{fn}` in one ```python "
        f"block.")}])
    # copied from the module, a __future__ import mid-file is a SyntaxError: not the answer's
    return source + "\n\n" + "\n".join(line for line in code.splitlines()
                                       if not line.startswith("from __future__")), code


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help=f"comma-separated names of {', '.join(FEATURES)}")
    ap.add_argument("--json", dest="json_out", default=None, help="write the rows here")
    ap.add_argument("--no-raw", action="store_true", help="skip the raw model's baseline")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(FEATURES)
    if unknown := [n for n in names if n not in FEATURES]:
        sys.exit(f"unknown feature(s) {', '.join(unknown)}: choose from {', '.join(FEATURES)}")
    work = Path(tempfile.mkdtemp(prefix="shipyard-features-"))
    base_url = None
    if not args.no_raw:
        from shipyard.runtime.local import ensure_server, parse_local_spec, resolve_gguf

        base_url = ensure_server(resolve_gguf(*parse_local_spec("local"))).base_url
    started, rows = time.perf_counter(), []
    for name in names:
        request, path, fn, checks = FEATURES[name]
        repo = fresh_copy(work, name)
        t0 = time.perf_counter()
        r = drive(repo, request)
        wall = time.perf_counter() - t0
        merged = r.get("status") == "merged"
        code = git_show(repo, "main", path) if merged else None
        passed, failing = score(code, checks) if code else (0, [])
        tin, tout = ledger_tokens(repo)
        row = {"feature": name, "status": r.get("status"), "merged": merged,
               "correct_merged": merged and passed == len(checks),
               "escaped_defect": merged and passed < len(checks), "failing": failing,
               "wall_s": round(wall, 1), "input_tokens": tin, "output_tokens": tout,
               "reason": (r.get("reason") or r.get("error") or "")[:200]}
        if base_url:
            module, row["raw_answer"] = raw_answer(fresh_copy(work, name + "-raw"), request,
                                                   path, fn, base_url)
            raw_ok, row["raw_failing"] = score(module, checks)
            row["raw_pass"] = raw_ok == len(checks)
        rows.append(row)
        print(json.dumps(row), flush=True)
    report(rows, time.perf_counter() - started, work)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"rows": rows}, indent=1))
    return 0


def report(rows: list[dict], total: float, work: Path) -> None:
    n = len(rows)

    def count(k: str) -> str:
        return f"{sum(bool(r.get(k)) for r in rows)}/{n}"

    print(f"\n{n} free-form features on examples/sample-app, embedded model — took "
          f"{total / 60:.1f} min (repositories kept in {work})")
    print("| metric | value |\n|---|---|")
    print(f"| correct and merged | {count('correct_merged')} |")
    print(f"| merged but wrong (escaped defects) | {count('escaped_defect')} |")
    print(f"| not merged | {sum(not r['merged'] for r in rows)}/{n} |")
    if "raw_pass" in rows[0]:
        print(f"| raw model right (greedy, no pipeline) | {count('raw_pass')} |")
    print(f"| median wall time per feature | {statistics.median(r['wall_s'] for r in rows):.0f} s |")
    print(f"| median prompt / output tokens | {statistics.median(r['input_tokens'] for r in rows):.0f}"
          f" / {statistics.median(r['output_tokens'] for r in rows):.0f} |")
    for r in rows:
        if r["escaped_defect"]:
            print(f"  wrong: {r['feature']}: {'; '.join(r['failing'])}")


if __name__ == "__main__":
    sys.exit(main())
