"""The ledger records whatever text it is given: nothing recorded is lost to an encoding error."""

from __future__ import annotations

from shipyard.runtime.ledger import Ledger


def test_a_lone_surrogate_is_recorded_as_a_replacement_character_and_the_chain_verifies(tmp_path):
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.event("run-1", "model_output", text="broken \ud800 half", nested={"k": ["\udfff"]})
    (row,) = ledger.rows("events", run_id="run-1")
    assert "broken \ufffd half" in row["data"] and "\ufffd" in row["data"].split("nested")[1]
    assert ledger.verify().ok
