"""How much planning a request gets, decided by code before any model is asked.

A one-function change does not need a risk register, a data map and alternatives:
on the embedded model each of those costs tens of seconds of decoding, and a 0.5B
model fills them with boilerplate anyway. A request is *small* when it is short
and names no concern the blueprint's risk scoping exists for (security, personal
data, AI, cost, operations); a small request gets the brief plan — every gate
still runs, every human gate still asks, only the documents are shorter. The
decision and its reason are recorded in the ledger (`planning_scale`).
"""

from __future__ import annotations

import re

__all__ = ["BRIEF", "FULL", "MAX_BRIEF_WORDS", "planning_scale"]

BRIEF, FULL = "brief", "full"
MAX_BRIEF_WORDS = 60

# Words that put a request in scope for a full plan. Deliberately broad: a false "full"
# costs a minute, a false "brief" skips risk scoping the human may have wanted.
_CONCERNS = re.compile(
    r"\b(auth\w*|log ?in|password\w*|passwd|credential\w*|secret\w*|token\w*|key ?pair|"
    r"encrypt\w*|decrypt\w*|crypt\w*|hash(ing)? password|permission\w*|role\w*|admin\w*|"
    r"sql|database\w*|db|migrat\w*|schema|upload\w*|download\w*|http\w*|url\w*|api\w*|"
    r"endpoint\w*|server\w*|network\w*|socket\w*|request\w*|webhook\w*|shell|subprocess|"
    r"exec\w*|eval|pickle|deserial\w*|personal|pii|gdpr|privacy|email\w*|phone|address\w*|"
    r"user data|customer\w*|payment\w*|billing|cost\w*|cloud|aws|gcp|azure|s3|llm\w*|ai|"
    r"model\w*|openai|prompt\w*|deploy\w*|config\w*|environment|thread\w*|async\w*|"
    r"concurren\w*|cache\w*|delete\w*|remov\w* (user|account|data)|file ?system|"
    r"docker\w*|kubernetes|k8s|cron\w*|queue\w*|retr(y|ies)|timeout\w*|licen[cs]\w*)\b",
    re.IGNORECASE)


def planning_scale(feature: str, mode: str = "auto") -> tuple[str, str]:
    """(`brief` or `full`, the reason in plain words)."""
    if mode == FULL:
        return FULL, "policy: [gates] planning = \"full\""
    words = len(feature.split())
    if words > MAX_BRIEF_WORDS:
        return FULL, f"the request has {words} words (more than {MAX_BRIEF_WORDS})"
    hit = _CONCERNS.search(feature)
    if hit:
        return FULL, f"the request mentions {hit.group(0)!r}, a risk-scoping concern"
    return BRIEF, (f"a short request ({words} words) naming no security, data, AI, cost or "
                   "operations concern")
