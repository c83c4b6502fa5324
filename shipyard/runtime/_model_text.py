"""Text in and out of a model: the schema sketch a prompt ends with, and reading replies
(JSON in fences or prose, lenient newlines, stray foreign-script tokens)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from ._model_types import Message

__all__ = ["clean_text", "extract_json", "parse_reply"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> str:
    """The JSON object inside a reply: models wrap it in fences or prose."""
    text = text.strip()
    if text.startswith("{"):
        return text
    m = _FENCE.search(text)
    if m:
        return m.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if 0 <= start < end else text


@functools.cache
def _json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()  # pydantic rebuilds it on every call otherwise


def parse_reply(schema: type[BaseModel], content: str) -> BaseModel:
    """Validate a reply. Small models put raw newlines inside JSON strings, which strict
    JSON forbids; such a reply is still unambiguous, so it is read leniently."""
    text = extract_json(content)
    try:
        return schema.model_validate_json(text)
    except ValidationError as exc:
        if not any(e["type"] == "json_invalid" for e in exc.errors()):
            raise
        try:
            data = json.loads(text, strict=False)
        except json.JSONDecodeError:
            raise exc from None
        return schema.model_validate(data)


def _validation_summary(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                     for e in exc.errors()[:12])


def _schema_instruction(schema: dict[str, Any]) -> str:
    # A sketch, not the whole JSON Schema: it costs a fifth of the tokens, small models read
    # it better, and the schema itself is enforced (grammar or json_schema) and validated.
    return ("Reply with one JSON object only, no prose and no code fences, shaped like:\n"
            + _sketch(schema, schema))


def _sketch(node: dict[str, Any], root: dict[str, Any]) -> str:
    if "$ref" in node:
        node = root.get("$defs", {}).get(node["$ref"].rsplit("/", 1)[-1], {})
    if "anyOf" in node:
        return " | ".join(_sketch(n, root) for n in node["anyOf"] if n.get("type") != "null")
    if "enum" in node or "const" in node:
        return "|".join(json.dumps(v) for v in node.get("enum", [node.get("const")]))
    kind = node.get("type")
    if kind == "object":
        fields = ", ".join(f'"{k}": {_sketch(v, root)}'
                           for k, v in node.get("properties", {}).items())
        return "{" + fields + "}"
    if kind == "array":
        most = f" (at most {node['maxItems']})" if "maxItems" in node else ""
        return f"[{_sketch(node.get('items', {}), root)}, ...]{most}"
    if kind == "string":
        return f"string≤{node['maxLength']}" if "maxLength" in node else "string"
    return str(kind or "value")


# Scripts a request in a Latin-script language never needs; a 0.5B model's stray CJK token
# or a UTF-8 sequence cut in half (U+FFFD) is noise, not content.
_FOREIGN = re.compile("[\u0400-\u04ff\u0590-\u05ff\u0600-\u06ff\u0e00-\u0e7f"
                      "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]")


# Half of a UTF-16 surrogate pair, as a JSON escape (`\ud83D` with no low half after it, or
# a low half with none before) or as the code point itself: no string can hold it as text,
# so a reply carrying one (HumanEval 79's delivery plan, cut inside an emoji) failed
# validation twice and ended the run. The backslashes before it must be odd in number (an
# escape, not an escaped backslash followed by "ud83D").
_LONE_SURROGATE = re.compile(
    r"(?<!\\)((?:\\\\)*)(?:\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})")
_SURROGATE_CHAR = re.compile("[\ud800-\udfff]")


def clean_text(content: str, messages: Sequence[Message] = ()) -> str:
    """Valid text in the language of the request: drops replacement characters and halves
    of surrogate pairs always, and characters of scripts the prompt does not use at all (a
    Chinese token in an English review)."""
    content = content.replace("\ufffd", "")
    content = _SURROGATE_CHAR.sub("", _LONE_SURROGATE.sub(r"\1", content))
    if any(_FOREIGN.search(m.get("content", "")) for m in messages):
        return content
    return _FOREIGN.sub("", content)


def _with_schema_instruction(msgs: list[Message], schema: dict[str, Any]) -> list[Message]:
    """The output format goes last, after the shared material: what differs between
    agents must come after what they share, or no prefix is reused."""
    instruction = _schema_instruction(schema)
    if msgs and msgs[-1]["role"] == "user":
        return [*msgs[:-1], {"role": "user", "content": msgs[-1]["content"] + "\n\n"
                             + instruction}]
    return [*msgs, {"role": "user", "content": instruction}]
