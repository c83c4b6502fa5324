"""What a model call cost, from litellm's price map — without importing litellm.

litellm takes ~3 s to import and, unless told otherwise, fetches its price map
from the network (DESIGN §5). The gateway needs a price for every call, the
ledger and `shipyard report` need one without ever calling a model, and
invariant 5 says nothing may need the internet. So we read the JSON that
litellm ships inside its package (`model_prices_and_context_window_backup.json`),
located with `importlib.util.find_spec`, which finds a top-level package
without executing it.

`SHIPYARD_PRICES` may point at a JSON file of the same shape, merged over the
bundled map, to price private endpoints or correct a stale entry.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import ConfigError

__all__ = ["PRICES_ENV", "Price", "cost_usd", "is_free", "price_for"]

PRICES_ENV = "SHIPYARD_PRICES"

_BUNDLED_FILE = "model_prices_and_context_window_backup.json"

# Models that cost nothing by construction: the embedded llama.cpp model and
# the scripted stand-ins used by tests. Checked before any lookup so a price-map
# entry that happens to share a name can never bill them.
_FREE_PREFIXES = ("local", "scripted")

# Prefixes litellm puts in front of model names for providers whose entries
# are keyed that way (e.g. "gemini/gemini-2.5-flash"). Tried in this order for
# a bare name, so first-party providers win over resellers.
_PROVIDER_PREFIXES = (
    "openai", "anthropic", "gemini", "vertex_ai", "mistral", "groq", "deepseek", "xai",
    "cohere", "azure", "bedrock", "together_ai", "fireworks_ai", "openrouter",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Price:
    """USD per token for one model, and where the number came from."""

    input_per_token: float
    output_per_token: float
    source: str  # "litellm:<key>" or "override:<key>", so a ledger row can say why


def price_for(model: str) -> Price | None:
    """The price of `model`, or None when neither map knows it.

    Tries the exact name, then the name without its provider prefix
    ("openai/gpt-4o-mini" -> "gpt-4o-mini"), then the bare name with each
    litellm provider prefix ("gemini-2.5-flash" -> "gemini/gemini-2.5-flash").
    """
    prices = _prices(_override_key())
    for key in _candidates(model):
        if key in prices:
            return prices[key]
    return None


def cost_usd(model: str, input_tokens: int, output_tokens: int, *,
             custom: Mapping[str, Price] | None = None) -> float:
    """USD for one call; 0.0 for free (local, scripted) and unknown models.

    `custom` (`[models.prices]` in shipyard.toml) wins over both price maps."""
    if is_free(model):
        return 0.0
    price = (custom or {}).get(model) or price_for(model)
    if price is None:
        return 0.0
    return input_tokens * price.input_per_token + output_tokens * price.output_per_token


def is_free(model: str) -> bool:
    """Local and scripted models: their tokens and seconds count, their cost is 0."""
    return model.lower().startswith(_FREE_PREFIXES)


def _candidates(model: str) -> list[str]:
    """Keys to try, most specific first, without duplicates."""
    keys = [model]
    # "openrouter/openai/gpt-4o" -> "openai/gpt-4o" -> "gpt-4o"
    rest = model
    while "/" in rest:
        rest = rest.split("/", 1)[1]
        keys.append(rest)
    keys.extend(f"{prefix}/{rest}" for prefix in _PROVIDER_PREFIXES)
    return list(dict.fromkeys(keys))


def _override_key() -> tuple[str, int, int] | None:
    """Identity of the override file: path plus mtime and size, so an edited file is re-read."""
    raw = os.environ.get(PRICES_ENV)
    if not raw:
        return None
    path = Path(raw).expanduser()
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(f"{PRICES_ENV}={raw!r} cannot be read ({exc}); "
                          f"point it at a JSON price file or unset it") from exc
    return str(path), stat.st_mtime_ns, stat.st_size


@functools.cache
def _prices(override: tuple[str, int, int] | None) -> dict[str, Price]:
    """Bundled map with the override merged over it, keyed by model name."""
    merged = dict(_bundled())
    if override is not None:
        merged.update(_parse(_read_override(Path(override[0])), source="override"))
    return merged


@functools.cache
def _bundled() -> dict[str, Price]:
    """litellm's bundled map, read once per process; empty when litellm is absent."""
    path = _bundled_path()
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # A broken litellm install must not break cost accounting: unknown = 0.0.
        return {}
    return _parse(data, source="litellm")


def _bundled_path() -> Path | None:
    """The JSON inside the installed litellm package, found without importing it."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / _BUNDLED_FILE
        if candidate.is_file():
            return candidate
    return None


def _read_override(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{PRICES_ENV} file {path} is not valid JSON ({exc}); expected "
                          '{"model": {"input_cost_per_token": x, "output_cost_per_token": y}}'
                          ) from exc


def _parse(data: Any, *, source: str) -> dict[str, Price]:
    """Keep entries priced per token; litellm also lists per-image, per-second, etc."""
    if not isinstance(data, dict):
        return {}
    prices: dict[str, Price] = {}
    for key, entry in data.items():
        price = _entry_price(entry, source=f"{source}:{key}")
        if price is not None and key != "sample_spec":
            prices[key] = price
    return prices


def _entry_price(entry: Any, *, source: str) -> Price | None:
    if not isinstance(entry, dict):
        return None
    inp, out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
    if not _is_number(inp) and not _is_number(out):
        return None
    # Embedding models list only an input price: their output is free.
    return Price(input_per_token=float(inp) if _is_number(inp) else 0.0,
                 output_per_token=float(out) if _is_number(out) else 0.0,
                 source=source)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
