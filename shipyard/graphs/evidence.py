"""What a review finding must point at to count: the code its rule is about.

A finding that cites a file and a line of the diff can still be invented: a 0.5B model
cites "deserialization" on line 10 of a parenthesis parser. So a finding counts only
when the lines it cites (± a little slack) show what its rule is about: `eval` or
`subprocess` for injection, `pickle` or `yaml.load` for deserialization, a `def` whose
name no test mentions for a missing test, and so on. Rules whose claims code cannot
check at all (an "edge case" with no failing test) are notes for the human: the
acceptance tests and the checks decide what they can, and the human reads the rest.
A real problem is still caught: the tools (SAST, secrets, tests) do not depend on this,
and a reviewer citing the right line of real `eval(input())` is grounded.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

__all__ = ["UNCHECKABLE", "evidence_for"]

_DEF = r"^\s*(?:async\s+def|def|class)\s+\w+"
_AI = (r"\b(openai|anthropic|litellm|langchain|transformers|torch|tensorflow|sklearn|llama_cpp|"
       r"ollama|cohere|mistralai|vertexai|genai|llm|prompt|completion)\b")
_PERSONAL = (r"\b(e-?mail|phone|address|birth|dob|ssn|social.security|passport|gender|ethnicity|"
             r"salary|credit.?card|iban|ip_?address|geo|latitude|longitude|health|password|"
             r"national.id|name|user|customer)\b")
_PAID = (r"\b(boto3|botocore|google\.cloud|azure|stripe|twilio|sendgrid|requests|httpx|aiohttp|"
         r"urlopen|openai|anthropic|litellm)\b")

# rule -> a pattern the cited lines must show (case-insensitive)
_PATTERNS: dict[str, str] = {
    "injection": r"\b(eval|exec|compile|__import__|subprocess|popen|system|shell\s*=\s*true|"
                 r"execute\w*|render_template_string|template|format)\b|%s|\{.*\}.*\b(select|"
                 r"insert|update|delete)\b",
    "secret": r"(key|token|secret|passw|credential|bearer|private)|[\"'][a-z0-9+/_\-]{20,}[\"']",
    "deserialization": r"\b(pickle|cpickle|marshal|shelve|dill|jsonpickle|yaml|loads?|"
                       r"literal_eval|eval)\b",
    "path-traversal": r"\b(open|path|os\.path|join|send_file|send_from_directory|unlink|remove|"
                      r"rmtree|chmod|extract|extractall|listdir|glob|mkdir)\b|\.\./",
    "auth-crypto": r"\b(hash\w*|md5|sha1|crypt\w*|random|token|passw\w*|auth\w*|login|session|"
                   r"jwt|verify|ssl|tls|cert\w*|hmac|secret)\b",
    "prompt-injection": _AI + r"|\b(messages|instruction\w*|system)\b",
    "error-handling": r"\b(except|raise|try|finally|pass|assert)\b|return none",
    "timeout": r"\b(timeout|urlopen|requests|httpx|aiohttp|socket|connect|sleep|wait|join|"
               r"recv|select|subprocess)\b",
    "resource-leak": r"\b(open|socket|connect|popen|thread\w*|pool|cursor|session|tempfile|"
                     r"mkstemp|acquire)\b",
    "unbounded": r"\b(while|append|extend|lru_cache|cache|readlines?|read)\b|\*\s*\d+|"
                 r"\brecurs",
    "logging": r"\b(log\w*|print|warn\w*)\b",
    "personal-data": _PERSONAL,
    "data-scope": _PERSONAL + r"|\b(store|save|write|upload|send|export|share|log\w*)\b",
    "ai-usage": _AI,
    "transparency": _AI,
    "paid-service": _PAID,
    "model-calls": _AI,
    "unbounded-compute": r"\b(while|for|range|sleep)\b|\brecurs",
    "polling": r"\b(while|sleep|poll\w*|retry|retries)\b",
    "undocumented-api": _DEF + r"|__all__",
    "stale-docs": _DEF + r"|__all__|\.(md|rst)\b",
    "weak-assertion": r"\bassert\w*\b|pytest\.raises|\bskip\b",
}
# Claims no code can check: kept as notes, never blocks.
UNCHECKABLE = frozenset({"edge-case", "other"})


def evidence_for(rule: str, path: str, line: int, lines: Mapping[int, str], *,
                 slack: int, is_test: bool, removed: int, failing_tests: bool,
                 untested: Collection[str]) -> str | None:
    """Why the cited lines do not support the finding (None: they do)."""
    window = [lines[n] for n in range(line - slack, line + slack + 1) if n in lines]
    text = "\n".join(window)
    if rule in UNCHECKABLE:
        return f"{rule!r} is a claim no check can confirm; shown to the human as a note"
    if rule == "failing-test":
        return None if failing_tests else "no test fails in the tests check"
    if rule == "deleted-test":
        return None if is_test and removed else "the diff deletes no test lines in this file"
    if rule == "missing-test":
        names = set(re.findall(r"def\s+(\w+)", text))
        return None if names & set(untested) else (
            "no function defined on the cited lines lacks a test that names it")
    if rule == "missing-docstring":
        return None if _undocumented_def(lines, line, slack) else (
            "no function or class without a docstring on the cited lines")
    if rule == "weak-assertion" and not is_test:
        return "the cited file is not a test"
    pattern = _PATTERNS.get(rule)
    if pattern is None or re.search(pattern, text, re.IGNORECASE | re.MULTILINE):
        return None
    return f"the cited lines of {path} show nothing that {rule!r} is about"


def _undocumented_def(lines: Mapping[int, str], line: int, slack: int) -> bool:
    for n in range(line - slack, line + slack + 1):
        if n in lines and re.match(_DEF, lines[n]):
            after = next((lines[k].strip() for k in range(n + 1, n + 4)
                          if k in lines and lines[k].strip()), "")
            if not after.startswith(('"""', "'''", '"', "'", 'r"""', "r'''")):
                return True
    return False
