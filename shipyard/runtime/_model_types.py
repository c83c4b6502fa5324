"""What crosses the gateway: requests, raw and validated replies, and the backend protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from ..errors import ModelError

__all__ = ["Backend", "Message", "ModelRequest", "PromptInfo", "RawReply", "Reply",
           "TransientModelError"]

Message = dict[str, str]


@dataclass(frozen=True, kw_only=True, slots=True)
class PromptInfo:
    """The prompt card fields recorded with each call."""

    id: str
    version: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelRequest:
    messages: list[Message]
    schema: dict[str, Any] | None
    schema_name: str | None
    temperature: float
    max_tokens: int
    timeout_s: float
    agent: str
    task: str
    call_index: int  # how many calls this (run, agent, task) made before; scripted replies use it
    tools: list[dict[str, Any]] | None = None
    # The start of the reply, written by code (a function's signature and docstring): a
    # backend that can continue a reply (the embedded model) generates only what follows;
    # any other sends the request without it and its reply is whole (RawReply.continued).
    prefill: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class RawReply:
    content: str
    input_tokens: int
    output_tokens: int
    model: str
    finish_reason: str | None = None
    continued: bool = False  # `content` continues the request's prefill (not a whole reply)


@dataclass(frozen=True, kw_only=True, slots=True)
class Reply:
    content: str
    parsed: BaseModel | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    model: str
    latency_s: float
    attempts: int
    ledger_ids: tuple[str, ...] = ()
    finish_reason: str | None = None

    @property
    def truncated(self) -> bool:
        """The output hit the token limit: a failed generation, never something to use."""
        return self.finish_reason == "length"


class TransientModelError(ModelError):
    """Rate limit, 5xx, timeout or connection failure: worth retrying."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Backend(Protocol):
    provider: str
    model: str
    request_params: dict[str, Any]  # extra request shape recorded in the ledger

    def request(self, req: ModelRequest) -> RawReply: ...
