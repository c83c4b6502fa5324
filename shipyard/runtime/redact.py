"""Redact known secret patterns before anything is written to the ledger.

The ledger keeps every prompt and diff forever; a key pasted into a feature
request or committed by a model must not be preserved there in clear.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["SECRET_PATTERNS", "redact", "redact_text"]

SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private-key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
        re.DOTALL)),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    # `\\?` lets it match inside JSON too, where the quote arrives escaped as \"
    ("aws-secret-key", re.compile(
        r"(?i)(aws_?secret_?access_?key\\?['\"]?\s*[=:]\s*\\?['\"]?)[A-Za-z0-9/+=]{40}")),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b")),
    ("openai-key", re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}\b")),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("bearer-token", re.compile(r"(?i)(authorization:\s*bearer\s+)[A-Za-z0-9._\-]{20,}")),
)


def redact_text(text: str) -> str:
    for name, pattern in SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m, n=name: f"{m.group(1)}[REDACTED:{n}]", text)
        else:
            text = pattern.sub(f"[REDACTED:{name}]", text)
    return text


def redact(value: Any) -> Any:
    """Redact every string inside `value` (dicts, lists, tuples), leaving other types."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
