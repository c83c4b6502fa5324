"""Redact known secret patterns before anything is written to the ledger.

The ledger keeps every prompt and diff forever; a key pasted into a feature
request or committed by a model must not be preserved there in clear.
"""

from __future__ import annotations

import base64
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
    ("basic-auth", re.compile(r"(?i)(authorization:\s*basic\s+)[A-Za-z0-9+/=]{8,}")),
    ("stripe-key", re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b")),
    ("gitlab-token", re.compile(r"\bgl(?:pat|dt|ptt|rt|cbt|oas)-[A-Za-z0-9_\-]{20,}\b")),
    ("pypi-token", re.compile(r"\bpypi-[A-Za-z0-9_\-]{50,}")),
    ("npm-token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("huggingface-token", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")),
    # scheme://user:password@host — the password goes, the rest stays readable.
    ("url-password", re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^\s:/@'\"]+:)[^\s@/'\"]+(?=@)",
                                re.IGNORECASE)),
)
# A secret wrapped in base64 (a Basic-auth header, a k8s Secret, a config blob) is the
# same secret: long base64 runs are decoded and redacted whole when they hide one.
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{24,}={0,2}(?![A-Za-z0-9+/=_\-])")


def _patterns(text: str) -> str:
    for name, pattern in SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m, n=name: f"{m.group(1)}[REDACTED:{n}]", text)
        else:
            text = pattern.sub(f"[REDACTED:{name}]", text)
    return text


def _hides_secret(blob: str) -> bool:
    try:
        raw = base64.b64decode(blob + "=" * (-len(blob) % 4), altchars=b"-_"
                               if ("-" in blob or "_" in blob) else None, validate=True)
        decoded = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return _patterns(decoded) != decoded or _patterns(redact_base64(decoded)) != decoded


def redact_base64(text: str) -> str:
    return _BASE64.sub(lambda m: "[REDACTED:base64-secret]" if _hides_secret(m[0]) else m[0], text)


def redact_text(text: str) -> str:
    return _patterns(redact_base64(text))


def redact(value: Any) -> Any:
    """Redact every string inside `value` (dicts, lists, tuples), leaving other types."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
