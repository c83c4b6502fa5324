"""The OpenAI-compatible backend over real HTTP (a stub server on 127.0.0.1)."""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import DEFAULT_REPLIES, make_calc_repo

BY_SCHEMA = {"OnePager": DEFAULT_REPLIES["planner.onepager"][0],
             "OnePagerBrief": DEFAULT_REPLIES["planner.onepager"][0],   # a short request's
             "AIScope": DEFAULT_REPLIES["governance.scope"][0]}


class StubOpenAI:
    """Answers /v1/chat/completions; the first `fail_first` requests get HTTP 429."""

    def __init__(self, fail_first: int = 0, status: int = 429, text: str = "") -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first, self.status, self.text = fail_first, status, text
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                if len(stub.requests) <= stub.fail_first:
                    self._send(stub.status, {"error": {"message": "slow down",
                                                       "type": "rate_limit_error"}})
                    return
                rf = body.get("response_format")  # a plain-text request gets `text`
                content = json.dumps(BY_SCHEMA[rf["json_schema"]["name"]]) if rf else stub.text
                self._send(200, {
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 321, "completion_tokens": 45,
                              "total_tokens": 366}})

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def stub():
    servers: list[StubOpenAI] = []

    def make(**kw: Any) -> StubOpenAI:
        servers.append(StubOpenAI(**kw))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _repo(tmp_path, url: str):
    return make_calc_repo(tmp_path / "r", toml=(
        f'[models]\ndefault = "gpt-4o-mini"\nbase_url = "{url}"\ntemperature = 0.3\n'
        f'max_tokens = 900\n'))


def test_429_over_http_is_retried_and_both_attempts_are_in_the_ledger(tmp_path, cli, stub):
    server = stub(fail_first=1)
    repo = _repo(tmp_path, server.url)
    code, _out, err = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    assert code == 3, err
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    rows = db.execute("select attempt, error, input_tokens, output_tokens, cost_usd, params "
                      "from llm_calls where task='onepager' order by seq").fetchall()
    assert [r[0] for r in rows] == [1, 2]
    assert "RateLimitError" in rows[0][1]
    assert rows[1][1] is None and (rows[1][2], rows[1][3]) == (321, 45)
    assert rows[1][4] > 0  # priced from litellm's map for gpt-4o-mini
    params = json.loads(rows[1][5])
    assert (params["temperature"], params["max_tokens"]) == (0.3, 900)
    sent = next(r for r in server.requests if "response_format" in r
                and r["response_format"]["json_schema"]["name"].startswith("OnePager"))
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 900
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"]["properties"]["title"]["maxLength"] == 100


def test_non_transient_http_error_fails_the_node_without_retry(tmp_path, cli, stub):
    server = stub(fail_first=10, status=400)
    repo = _repo(tmp_path, server.url)
    code, out, _err = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    result = json.loads(out.splitlines()[-1])
    assert code == 1 and result["status"] == "failed"
    assert "400" in result["reason"] and "slow down" in result["reason"]
    assert len(server.requests) == 1


def test_retries_run_out_and_the_run_fails_naming_the_attempts(tmp_path, cli, stub):
    server = stub(fail_first=100, status=503)
    repo = make_calc_repo(tmp_path / "r", toml=(
        f'[models]\ndefault = "gpt-4o-mini"\nbase_url = "{server.url}"\nmax_retries = 2\n'))
    code, out, _ = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    result = json.loads(out.splitlines()[-1])
    assert code == 1 and "after 3 attempts" in result["reason"]
    assert len(server.requests) == 3


def test_a_serial_endpoint_gets_one_request_at_a_time_even_from_parallel_reviewers(stub):
    import time
    from concurrent.futures import ThreadPoolExecutor

    from shipyard.runtime.models import ModelRequest, OpenAICompatBackend

    server = stub()
    in_flight, peak = 0, 0
    lock = threading.Lock()
    original = server.server.RequestHandlerClass.do_POST

    def slow_post(handler):  # type: ignore[no-untyped-def]
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.2)
        try:
            original(handler)
        finally:
            with lock:
                in_flight -= 1

    server.server.RequestHandlerClass.do_POST = slow_post
    backend = OpenAICompatBackend(model="m", base_url=server.url, api_key="x",
                                  max_tokens_in_body=True, max_concurrency=1)
    req = ModelRequest(messages=[{"role": "user", "content": "hi"}], schema={"type": "object"},
                       schema_name="AIScope", temperature=0, max_tokens=10, timeout_s=30,
                       agent="a", task="t", call_index=0)
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: backend.request(req), range(4)))
    assert len(replies) == 4 and peak == 1


def test_raw_newlines_inside_json_strings_are_read_not_rejected(make_repo, cli, replies):
    onepager = json.dumps(replies["planner.onepager"][0]).replace(
        "Users need to multiply two integers.", "Users need to\nmultiply two integers.")
    assert "\n" in onepager
    replies["planner.onepager"] = [{"raw": onepager}]
    repo = make_repo()
    code, _out, err = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    assert code == 3, err


OPENING = '```python\ndef sub(a, b):\n    """a minus b"""\n'


def _gateway(tmp_path, backend, run_id: str = "r1"):  # type: ignore[no-untyped-def]
    from shipyard.config import ModelsConfig
    from shipyard.runtime.ledger import Ledger
    from shipyard.runtime.models import Gateway

    gw = Gateway(models=ModelsConfig(default="m"), ledger=Ledger(tmp_path / "ledger.db"),
                 run_id=run_id)
    gw._backends["m"] = backend
    return gw


def test_the_embedded_model_continues_the_opening_code_wrote_and_the_reply_reads_whole(
        stub, tmp_path):
    from shipyard.runtime.models import LocalBackend

    server = stub(text="    return a - b\n```")
    gw = _gateway(tmp_path, LocalBackend(model="m", base_url=server.url, api_key="local",
                                         structured="json_object", max_tokens_in_body=True))
    reply = gw.complete("implementer", [{"role": "user", "content": "Complete sub."}],
                        task="implement", prefill=OPENING)
    sent = server.requests[-1]["messages"]
    assert sent[-1] == {"role": "assistant", "content": OPENING}   # the open start of the reply
    assert reply.content == OPENING + "    return a - b\n```"
    row = gw.ledger.rows("llm_calls", run_id="r1")[-1]
    assert row["response"] == "    return a - b\n```"   # what the model wrote ...
    assert json.loads(row["params"])["prefill"] == OPENING  # ... and what code wrote before it


def test_a_provider_that_cannot_continue_a_reply_is_asked_for_the_whole_of_it(stub, tmp_path):
    from shipyard.runtime.models import OpenAICompatBackend

    whole = OPENING + "    return a - b\n```"
    server = stub(text=whole)
    gw = _gateway(tmp_path, OpenAICompatBackend(model="m", base_url=server.url, api_key="x"))
    reply = gw.complete("implementer", [{"role": "user", "content": "Complete sub."}],
                        task="implement", prefill=OPENING)
    assert [m["role"] for m in server.requests[-1]["messages"]] == ["user"]
    assert reply.content == whole   # not the opening twice
    row = gw.ledger.rows("llm_calls", run_id="r1")[-1]
    assert "prefill" not in json.loads(row["params"])


def test_a_continued_reply_replays_whole_and_only_after_the_same_opening(stub, tmp_path):
    from shipyard.errors import ModelError
    from shipyard.runtime.models import LocalBackend
    from shipyard.runtime.replay import ReplayBackend

    server = stub(text="    return a - b\n```")
    ask = [{"role": "user", "content": "Complete sub."}]
    recorded = _gateway(tmp_path, LocalBackend(model="m", base_url=server.url, api_key="local",
                                               max_tokens_in_body=True))
    first = recorded.complete("implementer", ask, task="implement", prefill=OPENING)
    replay = ReplayBackend(ledger=recorded.ledger, source_run="r1")
    again = _gateway(tmp_path, replay, run_id="r2").complete("implementer", ask,
                                                             task="implement", prefill=OPENING)
    assert again.content == first.content
    with pytest.raises(ModelError, match="diverged"):
        _gateway(tmp_path, replay, run_id="r3").complete(
            "implementer", ask, task="implement", prefill=OPENING.replace("sub", "add"))


def test_every_sampled_call_to_the_embedded_model_carries_its_own_seed(stub, tmp_path):
    """With several prompts' states kept, the server would otherwise derive a restored
    prompt's seed from the state: the same sample twice."""
    from shipyard.runtime.models import LocalBackend

    server = stub(text="ok")
    gw = _gateway(tmp_path, LocalBackend(model="m", base_url=server.url, api_key="local",
                                         max_tokens_in_body=True))
    ask = [{"role": "user", "content": "Complete sub."}]
    for temperature in (0.8, 0.8, 0.0):
        gw.complete("implementer", ask, task="implement", temperature=temperature)
    seeds = [body.get("seed") for body in server.requests]
    assert seeds[0] is not None and seeds[1] is not None and seeds[0] != seeds[1]
    assert seeds[2] is None                       # greedy needs none
    rows = gw.ledger.rows("llm_calls", run_id="r1")
    assert [json.loads(r["params"]).get("seed") for r in rows] == seeds   # recorded
