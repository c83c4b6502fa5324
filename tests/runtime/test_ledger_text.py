"""The ledger records whatever text it is given: nothing recorded is lost to an encoding error."""

from __future__ import annotations

from shipyard.runtime.ledger import Ledger


def test_a_lone_surrogate_is_recorded_as_a_replacement_character_and_the_chain_verifies(tmp_path):
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.event("run-1", "model_output", text="broken \ud800 half", nested={"k": ["\udfff"]})
    (row,) = ledger.rows("events", run_id="run-1")
    assert "broken \ufffd half" in row["data"] and "\ufffd" in row["data"].split("nested")[1]
    assert ledger.verify().ok


def test_half_a_surrogate_pair_in_a_reply_is_dropped_and_the_reply_still_parses():
    # HumanEval 79 (2026-12-04): the delivery plan's title ended in `\ud83D`, half an emoji;
    # validation refused it twice and the run ended at G4
    import json

    from shipyard.runtime.models import clean_text

    raw = '{"title": "plan \\ud83D", "low": "x\\udE00y", "pair": "\\ud83d\\ude00", "lit": "\\\\ud83d"}'
    parsed = json.loads(clean_text(raw))
    assert parsed == {"title": "plan ", "low": "xy", "pair": "\U0001F600", "lit": "\\ud83d"}
    assert clean_text("text \ud83d here") == "text  here"   # the code point itself, too
