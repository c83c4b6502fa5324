"""`shipyard gates check`: the zero-trust checks on a diff, as G2, G5 and G6 run them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Self

import typer

if TYPE_CHECKING:
    from ..runtime.checks import CheckPolicy, GateReport

__all__ = ["app"]

app = typer.Typer(help="Run the zero-trust checks (tests, lint, SAST, secrets, deps, licenses, "
                       "SBOM, hygiene) on a diff.", no_args_is_help=True, add_completion=False)


@app.callback()
def _group() -> None:
    """Keep `check` a subcommand even while it is the only one."""


@app.command("check")
def check(
    repo: Annotated[Path, typer.Option("--repo", "-r", help="A git checkout of the head.")] = Path("."),
    base: Annotated[str | None, typer.Option("--base", help="Base ref (default: merge-base with "
                                                            "main/master, else HEAD~1).")] = None,
    head: Annotated[str, typer.Option("--head", help="Head ref.")] = "HEAD",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    only: Annotated[str | None, typer.Option("--only", help="Comma-separated checks to run.")] = None,
) -> None:
    """Run the policy's checks on base..head. Exit 0 pass, 1 something blocks, 2 usage error."""
    from ..config import load_settings
    from ..errors import ShipyardError
    from ..runtime.checks import run_checks

    try:
        repo = repo.resolve()
        policy = load_settings(repo).policy
        base_ref = base or default_base(repo, head)
        _refuse_empty_range(repo, base_ref, head)
        names = [n.strip() for n in only.split(",") if n.strip()] if only else None
        _print_policy(policy, names, to_stderr=as_json)
        with _Progress(enabled=not as_json) as progress:
            report = run_checks(repo, base_ref, head, policy, only=names, on_progress=progress.update)
    except ShipyardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        print(json.dumps(report.to_dict()))
    else:
        _print_table(report)
    raise typer.Exit(0 if report.passed else 1)


def _refuse_empty_range(repo: Path, base: str, head: str) -> None:
    """base == head checks an empty diff and would pass whatever the tree holds."""
    from ..errors import UserError
    from ..runtime.checks import resolve_sha

    if resolve_sha(repo, base) == resolve_sha(repo, head):
        raise UserError(f"base {base!r} and head {head!r} are the same commit, so there is no "
                        f"change to check; pass --base with the commit the change starts from "
                        f"(e.g. --base main when on a feature branch, or --base HEAD~3).")


def default_base(repo: Path, head: str) -> str:
    """Where the change starts: the merge-base with the main branch, else the head's parent."""
    from ..runtime.proc import run

    def git(*args: str) -> str | None:
        res = run(["git", *args], cwd=repo, timeout=30)
        return res.stdout.strip() if res.ok else None

    head_sha = git("rev-parse", "--verify", f"{head}^{{commit}}")
    for cand in ("origin/HEAD", "main", "master"):
        mb = git("merge-base", cand, head)
        if mb and mb != head_sha:
            return mb
    return git("rev-parse", "--verify", f"{head}~1^{{commit}}") or head


def _print_policy(policy: CheckPolicy, names: list[str] | None, *, to_stderr: bool) -> None:
    from rich.console import Console

    blocking = ", ".join(policy.blocking)
    Console(stderr=to_stderr).print(
        f"[bold]policy[/]: checks={','.join(names or policy.checks)}  blocking={blocking} "
        f"(+secrets always)  error_blocks={policy.error_blocks}  "
        f"coverage_min={policy.coverage_min}  coverage_max_drop={policy.coverage_max_drop}  "
        f"sast_severity={policy.sast_severity}  hygiene_severity={policy.hygiene_severity}  "
        f"unknown_license={policy.unknown_license}  timeout_s={policy.timeout_s:g}",
        highlight=False)


class _Progress:
    """A rich spinner per running check on stderr; silent with --json."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> Self:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                     TimeElapsedColumn(), console=Console(stderr=True),
                                     transient=True)
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.__exit__(None, None, None)

    def update(self, name: str, result: object | None) -> None:
        if not self.enabled:
            return
        if result is None:
            self.tasks[name] = self.progress.add_task(f"{name}…", total=1)
        else:
            self.progress.update(self.tasks[name], completed=1,
                                 description=f"{name}: {getattr(result, 'status', '?')}")
            self.progress.console.print(f"  {name}: {getattr(result, 'status', '?')} "
                                        f"({getattr(result, 'duration_s', 0):.1f}s)",
                                        highlight=False)


def _print_table(report: GateReport) -> None:
    from rich.console import Console
    from rich.table import Table

    style = {"pass": "green", "fail": "red", "error": "magenta", "skipped": "dim"}
    table = Table(title=f"gates {report.base[:10]}..{report.head[:10]}")
    for col in ("check", "status", "blocks", "time", "summary / findings"):
        table.add_column(col)
    for c in report.checks:
        lines = [c.summary] + [f"{f.severity} {f.rule} {f.path or ''}"
                               f"{':' + str(f.line) if f.line else ''} {f.message}"
                               for f in c.findings[:10]]
        if len(c.findings) > 10:
            lines.append(f"… {len(c.findings) - 10} more (see --json)")
        table.add_row(c.name, f"[{style[c.status]}]{c.status}[/]", "yes" if c.blocks else "no",
                      f"{c.duration_s:.1f}s", "\n".join(x for x in lines if x))
    console = Console()
    console.print(table)
    verdict = "[green]PASS[/]" if report.passed else "[red]BLOCKED[/]"
    console.print(f"{verdict}: {sum(c.blocks for c in report.checks)} blocking check(s) failed")
