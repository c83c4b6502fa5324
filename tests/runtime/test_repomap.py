"""The repository map and retrieval that give the implementer the files a request needs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipyard.runtime.repomap import (
    Tree,
    map_module,
    rank_files,
    relevant_files,
    render_map,
    repo_map,
    tokenize,
)

MODULE = '''\
"""Rate limiting for the login endpoint.

More text.
"""


def allow(user_id: str, *, limit: int = 5) -> bool:
    """Whether `user_id` may try again."""
    return True


async def reset(user_id):
    pass


class TokenBucket(Base, metaclass=Meta):
    """A token bucket per user."""

    def take(self, n: int = 1) -> bool:
        return True
'''


def test_map_module_lists_symbols_with_signatures_and_first_doc_lines():
    m = map_module("app/ratelimit.py", MODULE)
    assert m.doc == "Rate limiting for the login endpoint." and m.error is None
    assert [(s.name, s.kind) for s in m.symbols] == [
        ("allow", "function"), ("reset", "function"), ("TokenBucket", "class"),
        ("TokenBucket.take", "method")]
    assert m.symbols[0].signature == "def allow(user_id: str, *, limit: int=5) -> bool"
    assert m.symbols[1].signature == "async def reset(user_id)"
    assert m.symbols[2].signature == "class TokenBucket(Base, metaclass=Meta)"
    assert m.symbols[2].doc == "A token bucket per user."
    assert "    def take(self, n: int=1) -> bool" in m.outline()


def test_a_module_that_does_not_parse_is_mapped_with_the_reason():
    m = map_module("broken.py", "def f(:\n")
    assert m.symbols == () and m.error and "SyntaxError" in m.error
    assert "not parsed" in m.outline()


def test_tokenize_is_identifier_aware():
    assert tokenize("SecureCookieSession") == ["securecookiesession", "secure", "cookie",
                                               "session"]
    assert tokenize("send_file(path)") == ["send_file", "send", "file", "path"]
    assert tokenize("Add rate limits to the login") == ["rate", "limit", "login"]
    assert tokenize("HTTPServer") == ["httpserver", "http", "server"]


def _big_repo(n: int = 300) -> dict[str, str]:
    """Hundreds of plausible modules; one of them is about what the request asks."""
    topics = ["billing", "invoice", "email", "report", "export", "search", "cache", "queue",
              "audit", "profile", "upload", "payment", "notify", "schedule", "metrics"]
    files = {}
    for i in range(n):
        t = topics[i % len(topics)]
        files[f"app/{t}/mod{i}.py"] = (f'"""{t.title()} helpers, part {i}."""\n\n\n'
                                       f"def {t}_step_{i}(record: dict) -> dict:\n"
                                       f'    """Process a {t} record."""\n'
                                       f"    return dict(record, {t}=True)\n") * 3
    files["app/auth/login.py"] = MODULE.replace("Rate limiting", "Password login") \
        .replace("allow", "check_password")
    files["app/auth/ratelimit.py"] = MODULE
    return files


def test_the_file_a_request_is_about_ranks_first_in_a_big_repo():
    files = _big_repo()
    ranked = rank_files(files, "Add rate limiting to the login endpoint with a token bucket")
    assert ranked[0][0] == "app/auth/ratelimit.py"
    assert ranked[1][0] == "app/auth/login.py"


def test_planned_files_come_first_and_everything_fits_the_budget():
    tree = Tree.from_mapping(_big_repo())
    out = relevant_files(tree, "Add rate limiting to login", planned=["app/cache/mod6.py",
                                                                      "does/not/exist.py"],
                         budget_chars=2_000)
    assert list(out)[:2] == ["app/cache/mod6.py", "app/auth/ratelimit.py"]
    assert sum(map(len, out.values())) <= 2_000


def test_a_file_too_big_for_the_budget_is_given_as_its_outline():
    tree = Tree.from_mapping({"big.py": MODULE + "\n# padding\n" * 2_000})
    out = relevant_files(tree, "token bucket", budget_chars=1_000)
    assert out["big.py"].startswith("# big.py — Rate limiting") and len(out["big.py"]) < 1_000


def test_files_without_a_matching_term_are_left_out():
    tree = Tree.from_mapping({"a.py": "def alpha():\n    pass\n", "b.py": "def beta():\n    pass\n"})
    assert list(relevant_files(tree, "beta")) == ["b.py"]


def test_repo_map_and_render_map_over_a_directory(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "ratelimit.py").write_text(MODULE)
    (tmp_path / "pkg" / "data.bin").write_bytes(b"\0\1")
    (tmp_path / "README.md").write_text("# rate limiting\n")
    tree = Tree.from_dir(tmp_path)  # not a git checkout: every text file
    assert tree.paths == ("README.md", "pkg/ratelimit.py")
    maps = repo_map(tree)
    assert [m.path for m in maps] == ["pkg/ratelimit.py"]
    assert render_map(maps, 10) == "" and "class TokenBucket" in render_map(maps, 10_000)


# A real public repository: pallets/flask, cloned to /tmp (see the report of issue 9).
REAL = Path(os.environ.get("SHIPYARD_REAL_REPO", "/tmp/flask"))
REQUESTS = {
    "Rotate the secret key: signed session cookies should accept a list of fallback keys":
        "src/flask/sessions.py",
    "Allow configuring whether the JSON provider sorts keys when serialising responses":
        "src/flask/json/provider.py",
    "The run command should accept an option to exclude file patterns from the reloader":
        "src/flask/cli.py",
    "send_file should support an etag argument": "src/flask/helpers.py",
}


@pytest.mark.skipif(not (REAL / "src" / "flask").is_dir(),
                    reason="clone pallets/flask to /tmp/flask (or set SHIPYARD_REAL_REPO)")
def test_on_a_real_repository_the_right_file_is_ranked_first():
    tree = Tree.from_dir(REAL)
    code = Tree(paths=tuple(p for p in tree.paths if p.endswith(".py")), read=tree.read)
    assert len(code.paths) > 50
    docs = {p: t for p in code.paths if (t := code.read(p)) is not None}
    for request, expected in REQUESTS.items():
        assert rank_files(docs, request)[0][0] == expected, request
    out = relevant_files(code, next(iter(REQUESTS)), budget_chars=24_000)
    assert next(iter(out)) == "src/flask/sessions.py"
    assert sum(map(len, out.values())) <= 24_000
