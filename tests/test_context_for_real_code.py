"""Issue 9.4: in a repository of hundreds of files, the Implementer is shown the files the
request is about (repository map + BM25 over the request's terms), not the first that fit."""

from __future__ import annotations

import json
import sqlite3

from conftest import git

FILLER = '''"""Module {i}: unrelated bookkeeping."""


def record_{i}(ledger: list, amount: int) -> None:
    """Append an amount to a ledger."""
    ledger.append(amount)
'''

TEMPERATURE = '''"""Unit conversions for the weather station."""


def celsius_to_kelvin(c: float) -> float:
    """Return the temperature in kelvin."""
    return c + 273.15
'''


def test_the_implementer_sees_the_module_the_request_is_about_among_hundreds(make_repo, cli):
    repo = make_repo(human=["G6"])
    pkg = repo / "calc" / "books"
    pkg.mkdir()
    for i in range(300):
        (pkg / f"mod{i:03d}.py").write_text(FILLER.format(i=i))
    (repo / "calc" / "zz_units.py").write_text(TEMPERATURE)   # sorts after everything else
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a big repository")
    _, _, _ = cli("run-feature", "Add a fahrenheit conversion next to the kelvin one for the "
                    "weather station", "--repo", repo, "--json")
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    (messages,) = db.execute("select messages from llm_calls where task='implement' "
                             "order by seq limit 1").fetchone()
    prompt = json.loads(messages)[-1]["content"]
    assert "FILE: calc/zz_units.py" in prompt and "def celsius_to_kelvin" in prompt
    assert prompt.count("FILE: calc/books/") < 5          # not the first files that fit


def test_the_implementer_is_not_shown_the_tests_it_must_not_change(make_repo, cli):
    repo = make_repo(human=["G6"])
    cli("run-feature", "Add a multiply(a, b) helper to calc/core.py", "--repo", repo, "--json")
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    (messages,) = db.execute("select messages from llm_calls where task='implement' "
                             "order by seq limit 1").fetchone()
    prompt = json.loads(messages)[-1]["content"]
    assert "def multiply(a, b)" in prompt     # the stub in calc/core.py
    assert "FILE: tests/" not in prompt and "def test_" not in prompt  # neither the repo's
    # tests nor G3's acceptance file
