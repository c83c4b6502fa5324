"""`shipyard serve`: the approval console, a web page over one or more repositories."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["serve"]

TOKEN_ENV = "SHIPYARD_TOKEN"


def serve(
    repo: Annotated[list[Path], typer.Option("--repo", "-r", help="A repository whose runs to "
                                             "serve; repeat for several.")] = [Path(".")],  # noqa: B006
    host: Annotated[str, typer.Option("--host", help="Address to bind. Anything but loopback "
                                      "needs --token (or SHIPYARD_TOKEN).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8765,
    token: Annotated[str | None, typer.Option("--token", help="The login token (default: "
                                              "$SHIPYARD_TOKEN, else a fresh random one "
                                              "printed in the URL).", show_default=False)] = None,
) -> None:
    """Serve the approval console: runs, evidence, approve / revise / reject, dashboards.

    Prints a URL carrying the login token, as Jupyter does. Scripts use the same token
    as `Authorization: Bearer` on /api/runs. Stop with Ctrl-C; a run being driven stops
    at its last checkpoint and `shipyard resume RUN` continues it.
    """
    from ..errors import UserError
    from ..web.auth import is_loopback, new_token

    given = token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host) and not given:
        raise UserError(f"refusing to serve on {host} without a token: anyone who can reach "
                        f"it could approve runs. Pass --token (or set {TOKEN_ENV}) with a long "
                        f"random value, or bind 127.0.0.1.")
    if given is not None and len(given) < 16:
        raise UserError("the token is shorter than 16 characters; use a long random value "
                        "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`).")
    from ..web import create_app

    app = create_app(list(repo), token=given or new_token())
    shown = host if ":" not in host else f"[{host}]"
    url = f"http://{shown}:{port}/"
    print(f"shipyard console for {', '.join(str(r.path) for r in app.state.console.repos)}\n"
          f"  open {url}?token={app.state.auth.token}\n"
          f"  API: curl -H 'Authorization: Bearer <token>' {url}api/runs", file=sys.stderr,
          flush=True)
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
