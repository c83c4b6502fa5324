"""Pricing reads litellm's bundled price map without importing litellm."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.errors import ConfigError
from shipyard.runtime import pricing
from shipyard.runtime.pricing import Price, cost_usd, price_for

MODEL = "gpt-4o-mini"


@pytest.fixture(autouse=True)
def _fresh_maps(monkeypatch: pytest.MonkeyPatch):
    """Each test sees the real bundled map and no override, whatever the shell has set."""
    monkeypatch.delenv(pricing.PRICES_ENV, raising=False)
    pricing._bundled.cache_clear()
    pricing._prices.cache_clear()
    yield
    pricing._bundled.cache_clear()
    pricing._prices.cache_clear()


def _bundled_json() -> dict:
    # Read the file independently of the module under test, so the expected
    # numbers come from litellm's data rather than from our parser.
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / pricing._BUNDLED_FILE
    return json.loads(path.read_text(encoding="utf-8"))


def test_known_model_costs_tokens_times_map_prices() -> None:
    entry = _bundled_json()[MODEL]
    expected = 1234 * entry["input_cost_per_token"] + 567 * entry["output_cost_per_token"]

    cost = cost_usd(MODEL, 1234, 567)

    assert cost > 0.0
    assert cost == pytest.approx(expected)
    assert price_for(MODEL) == Price(input_per_token=entry["input_cost_per_token"],
                                     output_per_token=entry["output_cost_per_token"],
                                     source=f"litellm:{MODEL}")


def test_provider_prefix_is_stripped() -> None:
    assert f"openai/{MODEL}" not in _bundled_json()  # the test means something only if so
    assert price_for(f"openai/{MODEL}") == price_for(MODEL)
    assert cost_usd(f"openai/{MODEL}", 100, 10) == cost_usd(MODEL, 100, 10)


def test_provider_prefix_is_added_for_bare_names() -> None:
    data = _bundled_json()
    key = next(k for k, v in data.items()
               if k.startswith("gemini/") and k.removeprefix("gemini/") not in data
               and isinstance(v.get("input_cost_per_token"), float))

    price = price_for(key.removeprefix("gemini/"))

    assert price is not None
    assert price.source == f"litellm:{key}"
    assert price.input_per_token == data[key]["input_cost_per_token"]


def test_unknown_and_free_models_cost_nothing() -> None:
    assert price_for("no-such-model-xyz") is None
    assert cost_usd("no-such-model-xyz", 1000, 1000) == 0.0
    assert cost_usd("local", 1000, 1000) == 0.0
    assert cost_usd("local/qwen2.5-coder-0.5b", 1000, 1000) == 0.0
    assert cost_usd("scripted:tests/fixtures/plan.jsonl", 1000, 1000) == 0.0


def test_sample_spec_is_not_a_model() -> None:
    assert price_for("sample_spec") is None


def test_override_file_wins_and_adds_models(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({
        MODEL: {"input_cost_per_token": 1.0, "output_cost_per_token": 2.0},
        "acme/private-7b": {"input_cost_per_token": 0.5, "output_cost_per_token": 0.25},
    }))
    monkeypatch.setenv(pricing.PRICES_ENV, str(prices))

    assert cost_usd(MODEL, 3, 4) == 3 * 1.0 + 4 * 2.0
    assert price_for(MODEL).source == f"override:{MODEL}"
    assert cost_usd("acme/private-7b", 2, 4) == 2.0
    # Models the override does not mention still come from litellm.
    assert price_for("gpt-4o").source == "litellm:gpt-4o"


def test_edited_override_file_is_reread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"m": {"input_cost_per_token": 1.0}}))
    monkeypatch.setenv(pricing.PRICES_ENV, str(prices))
    assert cost_usd("m", 1, 0) == 1.0

    prices.write_text(json.dumps({"m": {"input_cost_per_token": 10.0}}))

    assert cost_usd("m", 1, 0) == 10.0


def test_bad_override_file_is_a_config_error(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pricing.PRICES_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match=pricing.PRICES_ENV):
        price_for(MODEL)

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    monkeypatch.setenv(pricing.PRICES_ENV, str(broken))
    with pytest.raises(ConfigError, match="not valid JSON"):
        price_for(MODEL)


def test_without_litellm_prices_are_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes find_spec report the package as absent.
    monkeypatch.setitem(sys.modules, "litellm", None)
    pricing._bundled.cache_clear()
    pricing._prices.cache_clear()

    assert price_for(MODEL) is None
    assert cost_usd(MODEL, 100, 100) == 0.0


def test_pricing_never_imports_litellm() -> None:
    code = (
        "import sys\n"
        "from shipyard.runtime.pricing import cost_usd\n"
        f"assert cost_usd({MODEL!r}, 10, 10) > 0\n"
        "assert 'litellm' not in sys.modules, 'litellm was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
