"""The approval console (`shipyard serve`): every route, its refusals, and that a decision
taken on the page is the CLI's decision, driven in the background."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import git

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

TOKEN = "console-token-" + "x" * 20
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "AKIA" + "ABCDEFGHIJKLMNOP"


def _start(cli, repo: Path, feature: str = "Add multiply") -> str:
    _, out, _ = cli("run-feature", feature, "--repo", repo, "--json")
    return json.loads(out.splitlines()[-1])["run_id"]


def _client(*repos: Path, login: bool = True) -> TestClient:
    from shipyard.web import create_app

    client = TestClient(create_app(list(repos), token=TOKEN))
    if login:
        assert client.get(f"/?token={TOKEN}").status_code == 200  # redirect, then the page
    return client


def _csrf(client: TestClient) -> str:
    client.get("/")
    return client.cookies["shipyard_csrf"]


def _status(cli, repo: Path, run_id: str) -> dict:
    _, out, _ = cli("status", run_id, "--repo", repo, "--json")
    return json.loads(out)


def _settled(cli, repo: Path, run_id: str, timeout: float = 120) -> dict:
    """The run's status once its background driver is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status(cli, repo, run_id)
        if status["status"] != "running":
            return status
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still running after {timeout}s")


def _approvals(repo: Path) -> list[tuple]:
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    return db.execute("select gate, decision, who, comment from approvals order by seq").fetchall()


def test_without_a_valid_token_pages_ask_to_log_in_and_the_api_answers_401(make_repo, cli):
    repo = make_repo()
    run_id = _start(cli, repo)
    client = _client(repo, login=False)
    page = client.get("/")
    assert page.status_code == 401 and 'name="token"' in page.text and run_id not in page.text
    assert client.get(f"/runs/{run_id}").status_code == 401
    assert client.get("/api/runs").status_code == 401
    wrong = client.get("/api/runs", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    refused = client.post(f"/api/runs/{run_id}/approve", json={"comment": "sneaky"})
    assert refused.status_code == 401
    assert client.get(f"/?token=wrong-{TOKEN}").status_code == 401
    # nothing changed: still waiting at G0, no approval in the ledger
    assert _status(cli, repo, run_id)["status"] == "waiting" and _approvals(repo) == []


def test_api_returns_what_the_cli_prints_and_approves_like_the_cli(make_repo, cli):
    repo = make_repo()
    run_id = _start(cli, repo)
    client = _client(repo, login=False)
    _, out, _ = cli("runs", "--repo", repo, "--json")
    api_rows = client.get("/api/runs", headers=BEARER).json()
    assert [{k: v for k, v in r.items() if k != "repo"} for r in api_rows] == json.loads(out)
    assert api_rows[0]["repo"] == repo.name
    assert client.get(f"/api/runs/{run_id}", headers=BEARER).json() == _status(cli, repo, run_id)

    decided = client.post(f"/api/runs/{run_id}/approve", headers=BEARER,
                          json={"comment": "scope is right", "as": "dana@example.com"})
    assert decided.status_code == 202, decided.text  # returns at once; the run goes on
    assert decided.json()["gate"] == "G0"
    status = _settled(cli, repo, run_id)
    assert (status["status"], status["gate"]) == ("waiting", "G1")
    assert _approvals(repo) == [("G0", "approve", "dana@example.com", "scope is right")]
    code, _, _ = cli("verify", "--repo", repo)
    assert code == 0  # the page's approval is signed like the CLI's


def test_api_refusals_name_the_fix_and_change_nothing(make_repo, cli):
    repo = make_repo()
    run_id = _start(cli, repo)
    client = _client(repo, login=False)
    revise = client.post(f"/api/runs/{run_id}/revise", headers=BEARER, json={})
    assert revise.status_code == 400 and "revise needs --comment" in revise.json()["error"]
    stale = client.post(f"/api/runs/{run_id}/approve", headers=BEARER, json={"gate": "G1"})
    assert stale.status_code == 409 and "waits at G0" in stale.json()["error"]
    bad_body = client.post(f"/api/runs/{run_id}/approve", headers=BEARER,
                           json={"comment": 3, "who": "x"})
    assert bad_body.status_code == 400
    assert client.post(f"/api/runs/{run_id}/merge", headers=BEARER, json={}).status_code == 404
    assert _approvals(repo) == []
    client.post(f"/api/runs/{run_id}/reject", headers=BEARER, json={"comment": "not now"})
    assert _settled(cli, repo, run_id)["status"] == "rejected"
    again = client.post(f"/api/runs/{run_id}/approve", headers=BEARER, json={})
    assert again.status_code == 409 and "not waiting" in again.json()["error"]


@pytest.mark.parametrize("bad", ["nope", "..%2F..%2Fetc", "%2E%2E", "x" * 300, "a%00b",
                                 "20260101-000000-abcdef/../x"])
def test_bad_run_ids_are_404_and_never_touch_the_filesystem(make_repo, cli, bad):
    repo = make_repo()
    _start(cli, repo)
    client = _client(repo)
    before = sorted(p.name for p in (repo / ".shipyard").rglob("*"))
    assert client.get(f"/runs/{bad}").status_code == 404
    assert client.get(f"/api/runs/{bad}", headers=BEARER).status_code == 404
    assert client.post(f"/api/runs/{bad}/approve", headers=BEARER, json={}).status_code == 404
    assert client.get(f"/runs/{bad}/artifacts/{bad}").status_code == 404
    assert sorted(p.name for p in (repo / ".shipyard").rglob("*")) == before


def test_runs_page_lists_every_repository_newest_first_and_filters(make_repo, cli):
    first = make_repo(name="alpha")
    second = make_repo(name="beta")
    old = _start(cli, first, "Add multiply")
    time.sleep(1.1)  # run ids and start times have one-second resolution
    new = _start(cli, second, "Add multiply, again")
    client = _client(first, second)
    page = client.get("/").text
    assert page.index(new) < page.index(old)  # newest first
    assert "waiting" in page and "human approver" in page and "ledger verified" in page
    only_alpha = client.get("/", params={"repo": "alpha"}).text
    assert old in only_alpha and new not in only_alpha
    assert new not in client.get("/", params={"status": "merged"}).text
    assert new in client.get("/", params={"q": "again"}).text
    assert old not in client.get("/", params={"q": "again"}).text


def test_run_page_shows_the_evidence_and_the_form_decides_in_the_background(make_repo, cli):
    repo = make_repo()
    run_id = _start(cli, repo)
    client = _client(repo)
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    html = page.text
    assert "<h3>G0: Approve the one-pager" in html  # the narrative, rendered from Markdown
    assert 'name="decision" value="approve"' in html and '<label for="comment">' in html
    assert "one-pager.md" in html and "planner" in html  # artifacts, cost by agent
    assert "run started on main" in html  # this run's ledger rows
    assert "<p>0 of " in client.get(f"/runs/{run_id}", params={"q": "no-such-row"}).text
    searched = client.get(f"/runs/{run_id}", params={"q": "planner.onepager"}).text
    assert "<p>1 of " in searched and "planner.onepager" in searched

    art = client.get(f"/runs/{run_id}").text.split(f"/runs/{run_id}/artifacts/")[1].split('"')[0]
    one_pager = client.get(f"/runs/{run_id}/artifacts/{art}")
    assert one_pager.status_code == 200 and "Acceptance criteria" in one_pager.text
    assert "matches the ledger" in one_pager.text

    csrf = _csrf(client)
    sent = client.post(f"/runs/{run_id}/decide", follow_redirects=False,
                       data={"csrf": csrf, "decision": "approve", "comment": "go", "gate": "G0",
                             "as": "erin@example.com"})
    assert sent.status_code == 303 and sent.headers["location"].endswith("decided=approve")
    status = _settled(cli, repo, run_id)
    assert (status["status"], status["gate"]) == ("waiting", "G1")
    assert _approvals(repo) == [("G0", "approve", "erin@example.com", "go")]
    timeline = client.get(f"/runs/{run_id}").text
    assert "approve by erin@example.com" in timeline and "G1: Approve the architecture" in timeline

    # the form still showing G0 must not approve G1
    stale = client.post(f"/runs/{run_id}/decide",
                        data={"csrf": csrf, "decision": "approve", "gate": "G0"})
    assert stale.status_code == 409 and "now waits at G1" in stale.text
    assert len(_approvals(repo)) == 1


def test_form_posts_without_csrf_or_from_another_site_are_refused(make_repo, cli):
    repo = make_repo()
    run_id = _start(cli, repo)
    client = _client(repo)
    csrf = _csrf(client)
    form = {"decision": "approve", "gate": "G0"}
    assert client.post(f"/runs/{run_id}/decide", data=form).status_code == 403
    assert client.post(f"/runs/{run_id}/decide",
                       data={**form, "csrf": "forged"}).status_code == 403
    cross = client.post(f"/runs/{run_id}/decide", data={**form, "csrf": csrf},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and "another site" in cross.text
    fetch_meta = client.post(f"/runs/{run_id}/decide", data={**form, "csrf": csrf},
                             headers={"Sec-Fetch-Site": "cross-site"})
    assert fetch_meta.status_code == 403
    assert client.post("/login", data={"token": TOKEN}).status_code == 403  # login form too
    assert _approvals(repo) == [] and _status(cli, repo, run_id)["status"] == "waiting"


def test_login_form_logout_and_rate_limit(make_repo, cli):
    repo = make_repo()
    _start(cli, repo)
    client = _client(repo, login=False)
    csrf = _csrf(client)
    ok = client.post("/login", data={"csrf": csrf, "token": TOKEN}, follow_redirects=False)
    assert ok.status_code == 303 and "httponly" in ok.headers["set-cookie"].lower()
    assert "samesite=strict" in ok.headers["set-cookie"].lower()
    assert client.get("/").status_code == 200
    client.post("/logout", data={"csrf": csrf})
    assert client.get("/").status_code == 401

    for _ in range(5):
        assert client.post("/login", data={"csrf": csrf, "token": "guess"}).status_code == 401
    limited = client.post("/login", data={"csrf": csrf, "token": TOKEN})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert client.get("/api/runs", headers=BEARER).status_code == 429  # same client, same limit


def test_four_eyes_rule_refuses_the_requester_on_the_page_api_and_cli(make_repo, cli):
    repo = make_repo(extra="")
    toml = repo / "shipyard.toml"
    toml.write_text(toml.read_text().replace("[gates]\n", "[gates]\n"
                                             "approver_must_differ_from_requester = true\n"))
    git(repo, "commit", "-qam", "four eyes")
    run_id = _start(cli, repo)  # started by tester@example.com (git user.email)
    client = _client(repo)
    assert "other than tester@example.com" in client.get("/").text
    api = client.post(f"/api/runs/{run_id}/approve", headers=BEARER, json={})
    assert api.status_code == 403 and "may not approve" in api.json()["error"]
    form = client.post(f"/runs/{run_id}/decide",
                       data={"csrf": _csrf(client), "decision": "approve", "gate": "G0",
                             "as": "Tester@Example.com"})
    assert form.status_code == 403 and "may not approve" in form.text
    code, _, err = cli("approve", run_id, "--repo", repo)
    assert code == 2 and "may not approve" in err
    assert _approvals(repo) == []
    other = client.post(f"/api/runs/{run_id}/approve", headers=BEARER,
                        json={"as": "reviewer@example.com"})
    assert other.status_code == 202
    assert _settled(cli, repo, run_id)["gate"] == "G1"


def test_no_page_or_api_response_shows_a_secret(make_repo, cli):
    repo = make_repo()
    run_id = _start(cli, repo, f"Add multiply; deploy key {SECRET}")
    client = _client(repo)
    client.post(f"/api/runs/{run_id}/reject", headers=BEARER,
                json={"comment": f"leaked {SECRET} here", "as": "ops@example.com"})
    _settled(cli, repo, run_id)
    art = client.get(f"/runs/{run_id}").text.split(f"/runs/{run_id}/artifacts/")[1].split('"')[0]
    bodies = [client.get(p).text for p in
              ("/", f"/runs/{run_id}", f"/runs/{run_id}?q=AKIA", "/dashboard",
               f"/runs/{run_id}/artifacts/{art}")]
    bodies += [client.get(p, headers=BEARER).text for p in ("/api/runs", f"/api/runs/{run_id}")]
    assert all(SECRET not in b for b in bodies)
    assert any("[REDACTED:aws-access-key]" in b for b in bodies)


def test_dashboard_and_verify_badge_read_the_ledger(make_repo, cli):
    repo = make_repo()
    run_id = _start(cli, repo)
    client = _client(repo)
    assert "No run has ended yet" in client.get("/dashboard").text
    client.post(f"/api/runs/{run_id}/reject", headers=BEARER, json={"comment": "no"})
    _settled(cli, repo, run_id)
    dash = client.get("/dashboard").text
    assert run_id in dash and "Change failure rate" in dash and "planner" in dash
    assert "✔" in client.get("/").text
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    db.execute("update approvals set comment = 'edited later'")
    db.commit()
    badge = client.get(f"/runs/{run_id}").text
    assert "ledger does not verify" in badge and "modified after it was written" in badge


def test_pages_send_a_strict_content_security_policy_and_static_assets(make_repo, cli):
    repo = make_repo()
    _start(cli, repo)
    client = _client(repo)
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert client.get("/static/app.css").status_code == 200
    assert ".code" in client.get("/static/pygments.css").text
    assert client.get("/live").json()["version"].isdigit()


def test_serve_refuses_a_public_address_without_a_token(cli, make_repo):
    repo = make_repo()
    code, _, err = cli("serve", "--repo", repo, "--host", "0.0.0.0")
    assert code == 2 and "without a token" in err
    code, _, err = cli("serve", "--repo", repo, "--token", "short")
    assert code == 2 and "16 characters" in err
    code, _, err = cli("serve", "--repo", repo.parent / "missing")
    assert code == 2 and "does not exist" in err
