"""`shipyard advisories`: the local OSV database the `deps` check matches against offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app"]

app = typer.Typer(help="The offline vulnerability database (OSV records for PyPI).",
                  no_args_is_help=True, add_completion=False)

DbOpt = Annotated[Path | None, typer.Option("--db", help="Database path (default: "
                                            "$SHIPYARD_ADVISORIES_DB, policy.advisories_db, "
                                            "~/.cache/shipyard/advisories.db).")]
RepoOpt = Annotated[Path, typer.Option("--repo", "-r", help="Repository whose policy to read.")]


def _db(db: Path | None, repo: Path):
    from ..config import load_settings
    from ..runtime.advisories import AdvisoryDB, default_db_path

    return AdvisoryDB(db or default_db_path(load_settings(repo).policy))


@app.command("import")
def import_(path: Annotated[Path, typer.Argument(help="A folder or zip of OSV YAML/JSON records.")],
            db: DbOpt = None, repo: RepoOpt = Path(".")) -> None:
    """Load OSV records from a folder (e.g. pypa/advisory-database vulns/) or a zip."""
    from ..errors import ShipyardError
    from ..runtime.advisories import import_path

    try:
        target = _db(db, repo)
        n = import_path(target, path)
    except ShipyardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    print(f"imported {n} PyPI advisories into {target.path} ({target.count()} in all)")


UrlOpt = Annotated[str | None, typer.Option("--url", help="Where to download the OSV zip from "
                                           "(default: $SHIPYARD_ADVISORIES_URL, else OSV's "
                                           "PyPI export).")]


@app.command("update")
def update(db: DbOpt = None, repo: RepoOpt = Path("."), url: UrlOpt = None) -> None:
    """Download OSV's PyPI export (network) and load it."""
    from ..errors import ShipyardError
    from ..runtime.advisories import default_url
    from ..runtime.advisories import update as do_update

    try:
        target = _db(db, repo)
        source = url or default_url()
        print(f"downloading {source} …", file=sys.stderr)
        n = do_update(target, source)
    except ShipyardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    print(f"imported {n} PyPI advisories into {target.path} ({target.count()} in all)")
