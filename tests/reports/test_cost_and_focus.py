"""`shipyard report cost`: what the agents cost, grouped, priced like litellm, exported as FOCUS."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import SANDBOX

from shipyard.runtime.ledger import Ledger

PRICED = "gpt-4o-mini"


def _start(cli, repo: Path) -> str:
    _, out, _ = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    return json.loads(out.splitlines()[-1])["run_id"]


def _calls(repo: Path) -> list[dict]:
    return Ledger.for_repo(repo).rows("llm_calls")


def test_cost_of_a_priced_model_matches_litellms_cost_per_token(make_repo, cli, monkeypatch):
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm: no network at import
    from litellm import cost_per_token

    repo = make_repo(price_as=PRICED)
    run_id = _start(cli, repo)  # waiting at G0: the Planner has been called
    calls = _calls(repo)
    expected = sum(sum(cost_per_token(model=PRICED, prompt_tokens=c["input_tokens"],
                                      completion_tokens=c["output_tokens"])) for c in calls)

    code, out, _ = cli("report", "cost", "--repo", repo, "--run", run_id, "--json")
    report = json.loads(out)

    assert code == 0 and expected > 0
    assert report["total"]["cost_usd"] == pytest.approx(expected, rel=1e-9)
    assert report["total"]["calls"] == len(calls) >= 1
    assert {line["key"] for line in report["lines"]} == {c["agent"] for c in calls}
    assert sum(line["cost_usd"] for line in report["lines"]) == pytest.approx(expected)


def _seed(repo: Path) -> None:
    """Three calls: a private model shipyard cannot price, a local model, a priced one."""
    ledger = Ledger.for_repo(repo)
    ledger.append("runs", run_id="r1", feature="Add slugify", base_branch="main")
    ledger.append("runs", run_id="r2", feature="Add multiply", base_branch="main")
    for run_id, agent, gate, model, tin, tout, cost, secs in (
            ("r1", "planner", "G0", "acme/private-7b", 1_000_000, 500_000, 0.0, 12.0),
            ("r1", "implementer", "G5", "local", 3000, 900, 0.0, 40.0),
            ("r2", "security", "G5", PRICED, 1000, 200, 0.00027, 1.5)):
        ledger.append("llm_calls", run_id=run_id, agent=agent, task="t", gate=gate, model=model,
                      provider=model.split("/")[0], input_tokens=tin, output_tokens=tout,
                      cost_usd=cost, latency_s=secs)


# (`sandbox` first: make_repo appends what it is given to the [policy] table)
PRIVATE_PRICE = (f'sandbox = "{SANDBOX}"\n[models.prices."acme/private-7b"]\n'
                 'input_per_mtok = 0.5\noutput_per_mtok = 2.0\n')


def test_private_models_are_priced_from_config_and_local_ones_cost_nothing(make_repo, cli):
    repo = make_repo(extra=PRIVATE_PRICE)
    _seed(repo)

    code, out, _ = cli("report", "cost", "--repo", repo, "--by", "model", "--json")
    lines = {line["key"]: line for line in json.loads(out)["lines"]}

    assert code == 0
    assert lines["acme/private-7b"]["cost_usd"] == pytest.approx(0.5 + 1.0)  # 1M in, 0.5M out
    local = lines["local"]
    assert (local["cost_usd"], local["input_tokens"], local["output_tokens"], local["seconds"],
            local["free_calls"]) == (0.0, 3000, 900, 40.0, 1)
    assert lines[PRICED]["cost_usd"] == pytest.approx(0.00027)

    code, out, _ = cli("report", "cost", "--repo", repo, "--by", "run", "--json")
    by_run = {line["key"]: line["cost_usd"] for line in json.loads(out)["lines"]}
    assert by_run == pytest.approx({"r1": 1.5, "r2": 0.00027})


def test_focus_csv_has_the_columns_and_sums_to_the_ledger_total(make_repo, cli, tmp_path):
    repo = make_repo(extra=PRIVATE_PRICE)
    _seed(repo)
    target = tmp_path / "focus" / "costs.csv"

    code, out, err = cli("report", "cost", "--repo", repo, "--focus", target, "--json")
    total = json.loads(out)["total"]
    with target.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))

    assert code == 0 and "3 FOCUS charge rows" in err
    required = {"BilledCost", "EffectiveCost", "BillingCurrency", "ChargePeriodStart",
                "ChargePeriodEnd", "ChargeCategory", "ServiceName", "ResourceId", "ResourceName",
                "ConsumedQuantity", "ConsumedUnit", "Tags"}
    assert required <= set(rows[0])
    assert sum(float(r["BilledCost"]) for r in rows) == pytest.approx(total["cost_usd"],
                                                                      rel=1e-12)
    assert sum(float(r["EffectiveCost"]) for r in rows) == pytest.approx(total["cost_usd"])
    assert sum(int(r["ConsumedQuantity"]) for r in rows) == (total["input_tokens"]
                                                              + total["output_tokens"])
    assert {r["BillingCurrency"] for r in rows} == {"USD"}
    assert {r["ChargeCategory"] for r in rows} == {"Usage"}
    assert {r["ConsumedUnit"] for r in rows} == {"Tokens"}
    local = next(r for r in rows if r["ResourceName"] == "local")
    assert float(local["BilledCost"]) == 0.0 and int(local["ConsumedQuantity"]) == 3900
    tags = json.loads(local["Tags"])
    assert tags == {"run": "r1", "agent": "implementer", "gate": "G5", "feature": "Add slugify"}
    for row in rows:  # FOCUS date-times: UTC with a Z, start before end
        assert row["ChargePeriodStart"].endswith("Z") and row["ChargePeriodEnd"].endswith("Z")
        assert row["ChargePeriodStart"] <= row["ChargePeriodEnd"]


def test_bad_report_input_is_a_one_line_usage_error(make_repo, cli):
    repo = make_repo()
    _seed(repo)
    for args, fix in ((["--by", "colour"], "agent, model, gate, run"),
                      (["--since", "last tuesday"], "YYYY-MM-DD"),
                      (["--run", "nope"], "shipyard runs")):
        code, _, err = cli("report", "cost", "--repo", repo, *args)
        assert code == 2 and fix in err and len(err.strip().splitlines()) == 1, err
