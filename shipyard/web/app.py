"""The approval console: FastAPI routes for the pages and the JSON API.

Every route that reads or decides calls the runner through `data.Console`, the
same functions the CLI calls. A decision is recorded (and refused, with the
CLI's message) before the response; the run is then driven on a thread that
holds the run's driver lock, so a second driver is refused exactly as in the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from ..errors import ApproverIsRequester, RunNotFound, RunStateConflict, UserError
from . import auth as A
from .data import Console, safe
from .render import pygments_css, render

__all__ = ["create_app"]

DECISIONS = ("approve", "revise", "reject")
MAX_BODY = 64 * 1024
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def create_app(repos: list[Path], *, token: str) -> FastAPI:
    """The console for `repos`; `token` opens it (URL `?token=`, login form, or Bearer)."""
    console, gate = Console(repos), A.Auth(token=token)
    app = FastAPI(title="shipyard approval console", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.console, app.state.auth = console, gate

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        response = await _admit(request, gate)
        if response is None:
            response = await call_next(request)
        response.headers.update({"Content-Security-Policy": _CSP, "X-Frame-Options": "DENY",
                                 "X-Content-Type-Options": "nosniff",
                                 "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})
        return response

    _pages(app, console, gate)
    _api(app, console)
    static = Path(__file__).parent / "static"

    @app.get("/static/pygments.css", include_in_schema=False)
    def _pygments() -> Response:
        return Response(pygments_css(), media_type="text/css")

    app.mount("/static", StaticFiles(directory=static), name="static")
    return app


# -- the gate at the door ---------------------------------------------------------------------
async def _admit(request: Request, gate: A.Auth) -> Response | None:
    """None to let the request through; else the refusal (401, 403, 429 or a login redirect)."""
    path, client = request.url.path, request.client.host if request.client else "?"
    if path.startswith("/static/"):
        return None
    if path.startswith("/api/"):
        return _admit_api(request, gate, client)
    if request.method == "POST" and A.cross_site(
            request.headers.get("origin"), request.headers.get("sec-fetch-site"),
            f"{request.url.scheme}://{request.headers.get('host', '')}"):
        return _error_page(request, 403, "Refused: this form was posted from another site.")
    if "token" in request.query_params:
        return _login_by_url(request, gate, client)
    if path == "/login" or gate.session_ok(request.cookies.get(A.SESSION_COOKIE)):
        return None
    return page(request, "login.html", {"error": None}, status=401)


def _admit_api(request: Request, gate: A.Auth, client: str) -> Response | None:
    presented = A.Auth.bearer(request.headers.get("authorization"))
    wait = gate.limiter.retry_after(client)
    if wait:
        return _api_error(429, "too many wrong tokens; wait and retry", "RateLimited",
                          headers={"Retry-After": str(wait)})
    if gate.token_ok(presented):
        return None
    if presented:
        gate.limiter.failed(client)
    return _api_error(401, "send the console's token as `Authorization: Bearer <token>` (the "
                      "URL `shipyard serve` printed carries it)", "Unauthorized",
                      headers={"WWW-Authenticate": "Bearer"})


def _login_by_url(request: Request, gate: A.Auth, client: str) -> Response:
    wait = gate.limiter.retry_after(client)
    if wait:
        return page(request, "login.html", {"error": f"Too many attempts; wait {wait} s."},
                    status=429, headers={"Retry-After": str(wait)})
    if not gate.token_ok(request.query_params["token"]):
        gate.limiter.failed(client)
        return page(request, "login.html", {"error": "That token is not this console's."},
                    status=401)
    rest = {k: v for k, v in request.query_params.items() if k != "token"}
    return _logged_in(gate, request.url.path + (f"?{urlencode(rest)}" if rest else ""))


def _logged_in(gate: A.Auth, to: str) -> Response:
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(A.SESSION_COOKIE, gate.open_session(), httponly=True, samesite="strict",
                        max_age=A.SESSION_TTL_S)
    return response


# -- pages ------------------------------------------------------------------------------------
def page(request: Request, template: str, context: dict[str, Any], *, status: int = 200,
         headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render with the CSRF token every form carries (set as a cookie on first sight)."""
    csrf = request.cookies.get(A.CSRF_COOKIE) or A.new_token()
    html = render(template, {"csrf": csrf, "path": request.url.path, **context})
    response = HTMLResponse(html, status_code=status, headers=headers)
    if request.cookies.get(A.CSRF_COOKIE) != csrf:
        response.set_cookie(A.CSRF_COOKIE, csrf, httponly=True, samesite="strict")
    return response


def _error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return page(request, "error.html", {"status": status, "message": message}, status=status)


async def _form(request: Request) -> dict[str, str] | Response:
    """The urlencoded form, after its CSRF token is checked; else the refusal."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return _error_page(request, 415, "Send the form as application/x-www-form-urlencoded.")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error_page(request, 413, f"The form is larger than {MAX_BODY // 1024} KiB.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return _error_page(request, 400, "The form is not valid UTF-8 form data.")
    form = {k: v[-1] for k, v in fields.items()}
    if not A.csrf_ok(request.cookies.get(A.CSRF_COOKIE), form.get("csrf")):
        return _error_page(request, 403, "Refused: the form's CSRF token is missing or stale. "
                                         "Reload the page and submit it again.")
    return form


def _pages(app: FastAPI, console: Console, gate: A.Auth) -> None:
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        return page(request, "login.html", {"error": None})

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        if isinstance(form, Response):
            return form
        client = request.client.host if request.client else "?"
        wait = gate.limiter.retry_after(client)
        if wait:
            return page(request, "login.html", {"error": f"Too many attempts; wait {wait} s."},
                        status=429, headers={"Retry-After": str(wait)})
        if not gate.token_ok(form.get("token")):
            gate.limiter.failed(client)
            return page(request, "login.html", {"error": "That token is not this console's."},
                        status=401)
        return _logged_in(gate, "/")

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        form = await _form(request)
        if isinstance(form, Response):
            return form
        gate.close_session(request.cookies.get(A.SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(A.SESSION_COOKIE)
        return response

    @app.get("/", response_class=HTMLResponse)
    def runs_page(request: Request, repo: str = "", status: str = "", q: str = "") -> Response:
        rows = console.runs_table(repo=repo, status=status, q=q)
        badges = {r.name: console.verify(r) for r in console.repos}
        return page(request, "runs.html", {
            "rows": rows, "repos": [r.name for r in console.repos], "badges": badges,
            "filters": {"repo": repo, "status": status, "q": q}, "version": console.version(),
            "statuses": ["waiting", "running", "merged", "failed", "rejected", "blocked"]})

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str, q: str = "", decided: str = "") -> Response:
        return _run_view(request, console, run_id, q=q, decided=decided)

    @app.post("/runs/{run_id}/decide")
    async def decide_form(request: Request, run_id: str) -> Response:
        form = await _form(request)
        if isinstance(form, Response):
            return form
        decision = form.get("decision", "")
        try:
            await run_in_threadpool(_decide, console, run_id, decision, form.get("comment", ""),
                                    form.get("as") or None, form.get("gate") or None)
        except UserError as exc:
            if isinstance(exc, RunNotFound):
                return _error_page(request, 404, str(exc))
            return await run_in_threadpool(_run_view, request, console, run_id, error=str(exc),
                                           form=form, status=_code(exc))
        return RedirectResponse(f"/runs/{run_id}?decided={decision}", status_code=303)

    @app.get("/runs/{run_id}/artifacts/{artifact_id}", response_class=HTMLResponse)
    def artifact_page(request: Request, run_id: str, artifact_id: str) -> Response:
        try:
            art = console.artifact(console.find(run_id), run_id, artifact_id)
        except RunNotFound as exc:
            return _error_page(request, 404, str(exc))
        return page(request, "artifact.html", {"run_id": run_id, "art": art})

    @app.get("/dashboard", response_class=HTMLResponse)
    def dashboard(request: Request) -> Response:
        return page(request, "dashboard.html", {"d": console.dashboard(),
                                                "version": console.version()})

    @app.get("/live")
    def live() -> JSONResponse:
        return JSONResponse({"version": console.version()})


def _run_view(request: Request, console: Console, run_id: str, *, q: str = "",
              decided: str = "", error: str | None = None, form: dict[str, str] | None = None,
              status: int = 200) -> Response:
    from ..ledger_view import summarize

    try:
        repo = console.find(run_id)
    except RunNotFound as exc:
        return _error_page(request, 404, str(exc))
    d = console.detail(repo, run_id)
    lines = [summarize(t, r) for t, r in d.pop("timeline")]
    shown = [ln for ln in lines if q.lower() in ln.lower()] if q else lines
    return page(request, "run.html", {
        "d": d, "run_id": run_id, "ledger": shown, "ledger_total": len(lines), "q": q,
        "decided": decided if decided in DECISIONS else "", "error": error,
        "form": form or {}, "badge": console.verify(repo), "version": console.version(),
        "me": _default_identity(console, repo)}, status=status)


def _default_identity(console: Console, repo: Any) -> str:
    """Who `approve` records when `--as` is not given: the CLI's rule, shown on the form."""
    import os

    with console.reading(repo) as runner:
        return runner.env.repo.user_email() or os.environ.get("USER") or "unknown"


def _decide(console: Console, run_id: str, decision: str, comment: str, who: str | None,
            gate: str | None = None) -> dict[str, Any]:
    """The CLI's `approve|revise|reject RUN --comment --as`, returning once it is recorded.

    `gate`, when given, is the gate the page showed: a run that moved on is not decided."""
    if decision not in DECISIONS:
        raise UserError(f"unknown decision {decision!r}; use approve, revise or reject.")
    repo = console.find(run_id)
    out = console.deciding(repo).decide(run_id, decision, comment=comment, who=who, gate=gate,
                                        background=True)
    return out.to_dict()


def _code(exc: UserError) -> int:
    if isinstance(exc, RunNotFound):
        return 404
    if isinstance(exc, ApproverIsRequester):
        return 403
    return 409 if isinstance(exc, RunStateConflict) else 400


# -- the JSON API -----------------------------------------------------------------------------
def _api_error(status: int, message: str, kind: str,
               headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "kind": kind}, status_code=status, headers=headers)


def _api(app: FastAPI, console: Console) -> None:
    @app.get("/api/runs")
    def api_runs() -> JSONResponse:
        return JSONResponse(safe(console.runs()))

    @app.get("/api/runs/{run_id}")
    def api_status(run_id: str) -> JSONResponse:
        try:
            return JSONResponse(safe(console.status(console.find(run_id), run_id)))
        except UserError as exc:
            return _api_error(_code(exc), str(exc), type(exc).__name__)

    @app.post("/api/runs/{run_id}/{decision}")
    async def api_decide(request: Request, run_id: str, decision: str) -> JSONResponse:
        if decision not in DECISIONS:
            return _api_error(404, f"no such action {decision!r}; POST to approve, revise or "
                                   f"reject", "NotFound")
        body = await request.body()
        try:
            doc = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            doc = None
        bad = not isinstance(doc, dict) or set(doc) - {"comment", "as", "gate"} or any(
            v is not None and not isinstance(v, str) for v in doc.values())
        if bad or len(body) > MAX_BODY:
            return _api_error(400, 'send a JSON object {"comment": "...", "as": "..."} (optional '
                                   'strings; "gate": "G1" refuses if the run moved on)',
                              "BadRequest")
        try:
            out = await run_in_threadpool(_decide, console, run_id, decision,
                                          doc.get("comment") or "", doc.get("as"),
                                          doc.get("gate"))
        except UserError as exc:
            return _api_error(_code(exc), str(exc), type(exc).__name__)
        return JSONResponse(safe(out), status_code=202)
