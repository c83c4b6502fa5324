"""`shipyard eval` and `shipyard release`: score the agents, and refuse a regressed release."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..evals.suite import MetricResult

__all__ = ["eval_command", "register", "release_command"]

RepoOpt = Annotated[Path, typer.Option("--repo", "-r", help="Repository whose shipyard.toml "
                                       "(models, policy) and ledger to use.")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", help="Model for every agent (default: \\[models] of shipyard.toml). "
                    "`reference` answers with each case's labelled answer (no model).")]
SampleOpt = Annotated[int | None, typer.Option(
    "--sample", min=1, help="At most N cases per dataset, good and bad alternating "
                            "(for slow models; the full suite is the default).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int, str], None] | None]:
    """A progress bar on stderr (never on stdout, which --json keeps for the result)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=Console(stderr=True),
                   transient=True)
    task = bar.add_task("", total=None)
    with bar:
        yield lambda i, n, label: bar.update(task, completed=i, total=n, description=label)


def _table(results: list[MetricResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("agent", "metric", "score", "threshold", "pass")
    for r in results:
        bound = f"{'≥' if r.higher_is_better else '≤'} {r.threshold}"
        score = "skipped" if r.score is None else f"{r.score:.3f}"
        verdict = r.skipped or ("✔" if r.passed else "✘")
        table.add_row(r.agent, r.metric, score, bound, verdict)
    Console().print(table)


def _setup(repo: Path):
    from ..config import load_settings
    from ..runtime.ledger import Ledger

    if not repo.is_dir():
        from ..errors import UserError

        raise UserError(f"{repo} is not a directory; pass --repo with your repository's folder.")
    return load_settings(repo), Ledger.for_repo(repo)


def eval_command(
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent's cases "
                                              "(e.g. security, implementer, redteam), or one "
                                              "dataset of its (test.plan).")] = None,
    model: ModelOpt = None, sample: SampleOpt = None, as_json: JsonOpt = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Score each agent on its labelled eval data and red-team cases.

    The scores are stored in the ledger. Exit 0 when every threshold holds, 1 otherwise."""
    from ..evals.suite import run_suite

    settings, ledger = _setup(repo)
    with _progress(sys.stderr.isatty() or not as_json) as progress:
        suite = run_suite(repo, settings=settings, ledger=ledger, agent=agent, model=model,
                          per_dataset=sample, progress=progress)
    if as_json:
        print(json.dumps(suite.to_dict(), default=str))
    else:
        _table(suite.results)
        print(f"suite {suite.suite_id}: {len(suite.cases)} cases with {suite.model} in "
              f"{suite.wall_s:.0f}s — {'all thresholds hold' if suite.passed else 'FAILED'}",
              file=sys.stderr)
    raise typer.Exit(0 if suite.passed else 1)


def release_command(
    version: Annotated[str | None, typer.Option("--version", help="The version to release "
                                                "(default: \\[project] version of pyproject.toml)."
                                                )] = None,
    model: ModelOpt = None, sample: SampleOpt = None, as_json: JsonOpt = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Run the eval suite and compare it with the last release; refuse a regression.

    Exit 1 naming each regressed metric and its delta, or each missed threshold; on success
    write MODEL_CARD.md and PROMPT_CARDS.md, tag the release and record it in the ledger."""
    from ..evals.release import release

    settings, ledger = _setup(repo)
    with _progress(sys.stderr.isatty() or not as_json) as progress:
        out = release(repo, settings=settings, ledger=ledger, version=version, model=model,
                      per_dataset=sample, progress=progress)
    if as_json:
        print(json.dumps(out.to_dict(), default=str))
    else:
        _table(out.suite.results)
        for reason in out.reasons():
            print(f"✘ {reason}", file=sys.stderr)
        if out.ok:
            print(f"✔ released {out.tag or out.version}: wrote {', '.join(out.files)} "
                  f"(suite {out.suite.suite_id})", file=sys.stderr)
        else:
            print(f"✘ release {out.version} refused (suite {out.suite.suite_id}; previous "
                  f"release suite {out.previous or 'none'})", file=sys.stderr)
    raise typer.Exit(0 if out.ok else 1)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command("release")(release_command)
