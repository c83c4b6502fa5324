#!/usr/bin/env python3
"""One-command demo: a real local model takes a feature request through every gate.

    python3 scripts/demo.py            # what `make demo` runs
    python3 scripts/demo.py setup      # only create .venv and install shipyard[local]

Standard library only, so it runs with any Python 3.11+ before the venv exists.
It never edits examples/sample-app: it copies it to a temporary directory, makes
that a git repository and runs shipyard there with the embedded model. At a human
gate it lets you decide when stdin is a terminal; otherwise it approves as you and
prints every `shipyard approve …` it issues, so you see the commands you would type.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample-app"
VENV = ROOT / os.environ.get("SHIPYARD_VENV", ".venv")  # a relative path is taken from ROOT
FEATURE = (
    "Add a slugify(text) helper to textkit/strings.py: lowercase the text, replace every run "
    "of characters that are not letters or digits (regex [^a-z0-9]+) with a single hyphen, "
    "and strip hyphens from both ends, so slugify('  Hello, World!  ') returns 'hello-world'. "
    "Export it from textkit/__init__.py and add pytest tests for it."
)
EXIT_WAITING = 3
MAX_APPROVALS = 10  # a run has three human gates by default; this only stops a runaway loop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", nargs="?", choices=["setup", "run"], default="run")
    parser.add_argument("--feature", default=FEATURE, help="the feature request to run")
    parser.add_argument("--keep-going", action="store_true",
                        help="approve automatically even when stdin is a terminal")
    args = parser.parse_args(argv)
    setup()
    if args.step == "setup":
        return 0
    return run_demo(args.feature, interactive=sys.stdin.isatty() and not args.keep_going)


# -- environment -----------------------------------------------------------------------------
def setup() -> None:
    """Create .venv and install shipyard[local] into it, unless that is already done."""
    py = VENV / "bin" / "python"
    if not py.exists():
        step(f"creating the virtual environment {VENV}")
        check([sys.executable, "-m", "venv", str(VENV)])
    if _local_ready(py):
        return
    step("installing shipyard[local] into .venv. llama-cpp-python compiles from source: "
         "about 7 minutes on 2 cores, once (pip caches the wheel). Progress is shown below.")
    check([str(py), "-m", "pip", "install", "--upgrade", "pip"], quiet=True)
    _with_heartbeat([str(py), "-m", "pip", "install", "-e", f"{ROOT}[local,dev]"])


def _local_ready(py: Path) -> bool:
    probe = ("import sys\n"
             "from shipyard.runtime.local import local_extra_missing\n"
             "sys.exit(1 if local_extra_missing() else 0)\n")
    res = subprocess.run([str(py), "-c", probe], capture_output=True, cwd=ROOT, check=False)
    return res.returncode == 0 and (VENV / "bin" / "shipyard").exists()


def _with_heartbeat(cmd: list[str]) -> None:
    """Run pip showing its output, and say we are alive when it is silent (the C++ build)."""
    started = time.monotonic()
    last_output = [time.monotonic()]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    done = threading.Event()

    def beat() -> None:
        while not done.wait(15):
            if time.monotonic() - last_output[0] >= 15:
                mins, secs = divmod(int(time.monotonic() - started), 60)
                print(f"  … still installing ({mins}m{secs:02d}s; compiling llama.cpp is the "
                      f"slow part)", flush=True)

    threading.Thread(target=beat, daemon=True).start()
    assert proc.stdout is not None
    for line in proc.stdout:
        last_output[0] = time.monotonic()
        print(f"  {line.rstrip()}", flush=True)
    done.set()
    if proc.wait() != 0:
        sys.exit(f"pip failed (exit {proc.returncode}); see the output above. A C/C++ compiler "
                 f"and cmake are needed to build llama-cpp-python.")


# -- the run ---------------------------------------------------------------------------------
def run_demo(feature: str, *, interactive: bool) -> int:
    started = time.monotonic()
    repo, who = _copy_sample()
    step(f"the sample app is at {repo} (a fresh git repository; examples/ is untouched)")
    step(f"running: shipyard run-feature {shlex.quote(feature)} --repo {repo}")
    if interactive:
        rc, result = _shipyard_interactive(["run-feature", feature, "--repo", str(repo)], repo)
    else:
        rc, result = _shipyard_json(["run-feature", feature, "--repo", str(repo)])
        for _ in range(MAX_APPROVALS):
            if rc != EXIT_WAITING:
                break
            run_id = result["run_id"]
            cmd = ["approve", run_id, "--repo", str(repo), "--comment", "demo auto-approval",
                   "--as", who]
            step(f"{result.get('gate', '?')} waits for a human; stdin is not a terminal, so the "
                 f"demo approves as {who}:\n  $ shipyard {shlex.join(cmd)}")
            rc, result = _shipyard_json(cmd)
    _summary(repo, rc, result, time.monotonic() - started)
    # Merged, blocked with findings, or waiting for you are all explained outcomes of a
    # demo; only a usage/config error (2) or a crash makes `make demo` fail.
    return 0 if rc in (0, 1, EXIT_WAITING) and result else (rc or 1)


def _copy_sample() -> tuple[Path, str]:
    target = Path(tempfile.mkdtemp(prefix="shipyard-demo-")) / "sample-app"
    shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", ".shipyard", "*.egg-info"))
    git(target, "init", "-q")
    git(target, "symbolic-ref", "HEAD", "refs/heads/main")
    who = _identity(target)
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "textkit 0.1.0")
    return target, who


def _identity(repo: Path) -> str:
    """Who the demo approves as: git user.email, else $USER. Sets a repo-local identity if
    git has none, so commits in the temporary copy work on a fresh machine."""
    email = _git_out(repo, "config", "user.email")
    if not email:
        user = getpass.getuser() or "demo"
        email = f"{user}@localhost"
        git(repo, "config", "user.email", email)
        git(repo, "config", "user.name", user)
    return email


def _shipyard_json(args: list[str]) -> tuple[int, dict]:
    """Run a shipyard command with --json --no-input; its last stdout line is the outcome."""
    proc = subprocess.run([_shipyard(), *args, "--json", "--no-input"], env=_env(),
                          stdout=subprocess.PIPE, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    try:
        result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    if not result:
        print(proc.stdout, end="")
    return proc.returncode, result


def _shipyard_interactive(args: list[str], repo: Path) -> tuple[int, dict]:
    """Let the CLI ask at each gate; it prints the run id as its last stdout line."""
    proc = subprocess.run([_shipyard(), *args], env=_env(),
                          stdout=subprocess.PIPE, text=True, check=False)
    print(proc.stdout, end="")
    lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
    if not lines:
        return proc.returncode, {}
    status = subprocess.run([_shipyard(), "status", lines[-1], "--repo", str(repo), "--json"],
                            env=_env(), stdout=subprocess.PIPE, text=True, check=False)
    try:
        return proc.returncode, json.loads(status.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return proc.returncode, {"run_id": lines[-1]}


def _summary(repo: Path, rc: int, result: dict, wall_s: float) -> None:
    run_id = result.get("run_id", "<run-id>")
    state = result.get("status", f"exit {rc}")
    reason = result.get("reason") or ""
    gate = f" at {result['gate']}" if result.get("gate") else ""
    ledger = repo / ".shipyard" / "ledger.db"
    sy = shlex.quote(_shipyard())
    print()
    step(f"run {run_id}: {state}{gate}{' — ' + reason if reason else ''}")
    print(f"  wall time: {wall_s:.0f}s")
    print(f"  ledger:    {ledger}")
    print("  inspect it:")
    print(f"    {sy} log {run_id} --repo {repo}")
    print(f"    {sy} verify --repo {repo}")
    print(f"    {sy} status {run_id} --repo {repo}")
    if rc == EXIT_WAITING:
        print(f"  continue:  {sy} approve {run_id} --repo {repo} --comment '…'")
    print(f"  the change: git -C {repo} log --oneline --all")
    print("  The embedded 0.5B model is for trying shipyard offline and for CI; a run blocked by "
          "its reviewers is an honest result. See README 'Using a real provider'.")


# -- helpers ---------------------------------------------------------------------------------
def _shipyard() -> str:
    return os.environ.get("SHIPYARD_BIN") or str(VENV / "bin" / "shipyard")


def _env() -> dict[str, str]:
    # The demo is about the embedded model: ignore any model the caller configured.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_MODELS__")}
    env["SHIPYARD_MODEL"] = "local"
    # One review → fix loop shows the mechanism; on 2 cores each G5 round with the
    # embedded model takes ~5 minutes (six reviews of ~1 minute each, one at a time).
    env.setdefault("SHIPYARD_GATES__MAX_FIX_ROUNDS", "1")
    return env


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def check(cmd: list[str], *, quiet: bool = False) -> None:
    res = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
    if res.returncode != 0:
        sys.exit(f"failed: {shlex.join(cmd)}\n{res.stdout or ''}{res.stderr or ''}")


def git(repo: Path, *args: str) -> None:
    check(["git", "-C", str(repo), *args], quiet=True)


def _git_out(repo: Path, *args: str) -> str:
    res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                         text=True, check=False)
    return res.stdout.strip() if res.returncode == 0 else ""


if __name__ == "__main__":
    sys.exit(main())
