"""Fixes to llama-cpp-python 0.3.36 applied in the server subprocess before it loads a
model: a grammar its parser accepts for long ``maxLength``, strict JSON strings, the
grammar consulted per sampled token (``_lazy_grammar``), no AMX kernels (which segfault
on these machines), light prompt-cache states, and replies that continue a prefill.

Importing this module is cheap: ``llama_cpp`` is imported only inside
:func:`patch_llama_cpp`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._lazy_grammar import install_lazy_grammar
from ._prompt_cache import install_light_states

__all__ = ["amx_workaround", "patch_llama_cpp"]


def amx_workaround() -> str:
    """How this machine keeps llama.cpp away from its AMX kernels.

    On CPUs with AMX, llama-cpp-python 0.3.36's AMX matmul segfaults on the first decode
    (seen on these VMs: SIGSEGV in ggml_backend_amx_mul_mat). Returns ``"none"`` (no AMX
    here) or ``"no-extra-bufts"``: load models without llama.cpp's extra buffer types
    (AMX, repacked weights). Measured here, that costs nothing noticeable: 29 tok/s free
    and 16 tok/s schema-constrained (stock sampler) either way (a seccomp filter that
    refuses AMX but keeps repacking measured the same, so we keep the simple fix).
    Override with SHIPYARD_LLAMA_AMX=none|no-extra-bufts.
    """
    env = os.environ.get("SHIPYARD_LLAMA_AMX", "auto").strip().lower()
    if env in _AMX_MODES:
        return env
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return "none"  # not Linux: no AMX in practice
    return "no-extra-bufts" if " amx_int8" in flags or " amx_tile" in flags else "none"


_AMX_MODES = ("none", "no-extra-bufts")


def patch_llama_cpp(*, amx: str | None = None) -> str:
    """Fix six llama-cpp-python 0.3.36 problems before any ``llama_cpp.Llama`` exists.

    1. Its JSON-schema converter spells ``maxLength: 1200`` as 1200 nested optional
       groups, which llama.cpp's grammar parser rejects ("failed to parse grammar") and
       the server then dies on the request. Upstream's converter uses the ``{m,n}``
       repetition syntax the bundled llama.cpp understands; we use that.
    2. Its JSON-schema grammar lets strings contain raw control characters (its ``char``
       rule is ``[^"\\]``), so "grammar-valid" replies such as a title ending in a raw
       newline fail strict JSON parsing (pydantic: "control character found while
       parsing a string"). We use upstream llama.cpp's rule, which excludes them, so
       every constrained reply is strict JSON.
    3. Schema-constrained decoding ran at half the speed of free decoding: the grammar
       judged the whole vocabulary for every token. It now judges the sampled token
       first, as upstream llama.cpp does (see :mod:`._lazy_grammar`).
    4. AMX crashes; see :func:`amx_workaround`.
    5. Its prompt cache copied a 311 MB logits buffer into every state it kept; states
       now keep only llama.cpp's own (see :mod:`._prompt_cache`), and the server keeps
       several prompts' states in RAM.
    6. A chat request ending in an assistant message got that message closed and a new
       reply started. We continue it instead, as vLLM's ``continue_final_message`` and
       Anthropic's prefill do: code writes the start of a reply (a function's signature and
       docstring) and the model generates only the rest (see :func:`_continue_final`).

    Runs in the server subprocess (see :func:`_bootstrap_source`) and in code that calls
    llama_cpp directly (the benchmark). Imports llama_cpp: call it only right before use.
    Returns the AMX workaround applied.
    """
    import llama_cpp.llama_chat_format as chat_format
    import llama_cpp.llama_cpp as capi  # Llama() reads its defaults from this module
    import llama_cpp.llama_grammar as grammar

    grammar.PRIMITIVE_RULES["char"] = grammar.BuiltinRule(_STRICT_JSON_CHAR, [])
    grammar._build_repetition = _build_repetition
    install_lazy_grammar()
    install_light_states()
    formatter = chat_format.Jinja2ChatFormatter
    if not getattr(formatter.__call__, "_shipyard_continues", False):
        formatter.__call__ = _continue_final(formatter.__call__)
    mode = amx or amx_workaround()
    default = capi.llama_model_default_params
    if mode != "no-extra-bufts" or getattr(default, "_shipyard_patched", False):
        return mode

    def params() -> object:  # llama_cpp's ctypes llama_model_params
        p = default()
        p.use_extra_bufts = False
        return p

    params._shipyard_patched = True  # type: ignore[attr-defined]
    capi.llama_model_default_params = params
    return mode


def _continue_final(render: Callable[..., Any]) -> Callable[..., Any]:
    """`Jinja2ChatFormatter.__call__` that renders a trailing assistant message as the open
    start of the reply: the messages before it with the generation prompt, then its text,
    unterminated. Only our gateway sends one (`ModelRequest.prefill`)."""

    def __call__(self: Any, *, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
        last = messages[-1] if messages else {}
        if len(messages) < 2 or last.get("role") != "assistant" \
                or not isinstance(last.get("content"), str):
            return render(self, messages=messages, **kwargs)
        head = render(self, messages=messages[:-1], **kwargs)
        head.prompt += last["content"]
        return head

    __call__._shipyard_continues = True  # type: ignore[attr-defined]
    return __call__


def _build_repetition(item_rule: str, min_items: int, max_items: int | None,
                      separator_rule: str | None = None, item_rule_is_literal: bool = False) -> str:
    """Upstream llama.cpp's examples/json_schema_to_grammar.py `_build_repetition`."""
    del item_rule_is_literal  # llama-cpp-python's extra flag; the {m,n} form does not need it
    if max_items == 0:
        return ""
    if min_items == 0 and max_items == 1:
        return f"{item_rule}?"
    if not separator_rule:
        if min_items == 1 and max_items is None:
            return f"{item_rule}+"
        if min_items == 0 and max_items is None:
            return f"{item_rule}*"
        return f"{item_rule}{{{min_items},{max_items if max_items is not None else ''}}}"
    result = item_rule + " " + _build_repetition(
        f"({separator_rule} {item_rule})", min_items - 1 if min_items > 0 else 0,
        max_items - 1 if max_items is not None else None)
    return f"({result})?" if min_items == 0 else result


# Upstream llama.cpp (common/json-schema-to-grammar): no raw ", \, DEL or control chars.
_STRICT_JSON_CHAR = (r'[^"\\\x7F\x00-\x1F] | '
                     r'"\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])')
