"""`shipyard report cost|dora|weekly` and `shipyard mark-failed`: read the ledger, never a model."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ..runtime.ledger import Ledger

__all__ = ["app", "mark_failed"]

app = typer.Typer(help="Cost, DORA and weekly reports from the ledger (no model is called).",
                  no_args_is_help=True, add_completion=False)

RepoOpt = Annotated[Path, typer.Option("--repo", "-r", help="The target git repository.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", help="From this date: YYYY-MM-DD, an ISO date-time, or a span like 7d / 4w.")]


def _open(repo: Path) -> tuple[Path, Ledger, dict[str, Any]]:
    """The repository root, its ledger and the custom prices of its shipyard.toml."""
    from ..config import load_settings
    from ..errors import UserError
    from ..runtime.ledger import Ledger
    from ..runtime.workspace import Git

    root = Git.open_repo(repo).path
    path = root / ".shipyard" / "ledger.db"
    if not path.is_file():
        raise UserError(f"no shipyard ledger in {root} yet (.shipyard/ledger.db); run a feature "
                        f"there first, or pass --repo with the repository shipyard ran in.")
    return root, Ledger(path), load_settings(root).models.custom_prices()


@app.command()
def cost(repo: RepoOpt = Path("."), as_json: JsonOpt = False, since: SinceOpt = None,
         run: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
         by: Annotated[str, typer.Option("--by", help="Group by agent, model, gate or run.")
                       ] = "agent",
         focus: Annotated[Path | None, typer.Option(
             "--focus", help="Also write the calls as a FinOps FOCUS 1.x CSV to this file.")
                          ] = None) -> None:
    """Model spend, tokens and seconds per agent, model, gate or run (local models cost $0)."""
    from ..reports import cost_report, priced_calls, write_focus_csv
    from ..reports._period import parse_since

    _, ledger, prices = _open(repo)
    start = parse_since(since)
    report = cost_report(ledger, run_id=run, since=start, by=by, prices=prices)
    if focus is not None:
        rows = write_focus_csv(priced_calls(ledger, run_id=run, since=start, prices=prices),
                               focus)
        print(f"wrote {rows} FOCUS charge rows to {focus}", file=sys.stderr)
    if as_json:
        print(json.dumps(report.to_dict()))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(report.by, "calls", "input tok", "output tok", "seconds", "cost $",
                  title=f"cost by {report.by}" + (f" — run {run}" if run else "")
                  + (f" — since {report.since[:10]}" if report.since else ""))
    for line in [*report.lines, report.total]:
        table.add_row(line.key, str(line.calls), f"{line.input_tokens:,}",
                      f"{line.output_tokens:,}", f"{line.seconds:.1f}", f"{line.cost_usd:.4f}")
    Console().print(table)


@app.command()
def dora(repo: RepoOpt = Path("."), as_json: JsonOpt = False, since: SinceOpt = None) -> None:
    """Deployment frequency, lead time, change failure rate and time to restore."""
    from ..reports import dora_report
    from ..reports._period import parse_since

    root, ledger, _ = _open(repo)
    report = dora_report(ledger, root, since=parse_since(since))
    if as_json:
        print(json.dumps(report.to_dict()))
        return
    cfr = report.change_failure_rate
    print(f"DORA {report.since[:10]} → {report.until[:10]} ({report.days:g} days)")
    print(f"  deployment frequency  {report.deployments_per_week:.2f}/week "
          f"({report.deployments} merged runs)")
    print(f"  lead time for changes median {_dur(report.lead_time_median_s)}, "
          f"p90 {_dur(report.lead_time_p90_s)} (kickoff → merge)")
    print(f"  change failure rate   {'–' if cfr is None else f'{cfr:.0%}'} "
          f"({report.failures} failed: marked or reverted)")
    print(f"  time to restore       median {_dur(report.time_to_restore_median_s)} "
          f"({report.open_failures} still open)")


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


@app.command()
def weekly(html: Annotated[Path | None, typer.Option("--html", help="Write the page here.")
                           ] = None,
           repo: RepoOpt = Path("."), as_json: JsonOpt = False,
           weeks: Annotated[int, typer.Option("--weeks", min=1, max=104,
                                              help="How many weeks back.")] = 8) -> None:
    """One self-contained page: DORA trends, cost by agent and model, verdicts, blocks."""
    from ..errors import UserError
    from ..reports import weekly_data, weekly_html

    if html is None and not as_json:
        raise UserError("report weekly needs --html FILE (the page) or --json (its data).")
    root, ledger, prices = _open(repo)
    data = weekly_data(ledger, root, weeks=weeks, prices=prices)
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(weekly_html(data), encoding="utf-8")
        print(f"wrote {html}", file=sys.stderr)
    if as_json:
        print(json.dumps(data))


def mark_failed(run_id: Annotated[str, typer.Argument(help="A merged run (see `shipyard runs`).")],
                reason: Annotated[str, typer.Option("--reason", help="What failed after the "
                                                    "merge; recorded in the ledger.")] = "",
                repo: RepoOpt = Path("."), as_json: JsonOpt = False,
                who: Annotated[str | None, typer.Option("--as", help="Who reports it (default: "
                                                        "git user.email).")] = None) -> None:
    """Record that a merged change failed in production: it counts in the change failure
    rate, and the next merge on its branch (or its revert) restores it."""
    from ..reports import mark_failed as record
    from ..runtime.workspace import Git

    root, ledger, _ = _open(repo)
    row = record(ledger, run_id, reason=reason,
                 who=who or Git.open_repo(root).user_email() or "unknown")
    if as_json:
        print(json.dumps({"run_id": run_id, "event_id": row["id"], "reason": reason.strip()}))
    else:
        print(f"run {run_id} marked failed: {reason.strip()}", file=sys.stderr)
