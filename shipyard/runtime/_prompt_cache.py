"""Several prompts' KV states kept in RAM, so prompts that take turns do not re-read
each other.

llama-cpp-python keeps one context, and a request reuses only the prefix it shares with
the *previous* request. G5 takes turns between two prompts (the stub alone, the task
prompt) and the Test Engineer's re-asks, so every switch read 300-500 prompt tokens again
at ~12.5 ms a token (the server's own log, 2026-12-07); in the ledgers of HumanEval 70-99
that was 15-50 s on each problem that needed more than two attempts.

The server's RAM cache (`--cache`) keeps the context's state after each completion and
restores the one sharing the longest prefix with a new prompt. As shipped it is unusable:
llama-cpp-python 0.3.36 copies its logits buffer into every state (up to n_batch rows of
151,936 floats, 311 MB) although nothing reads those rows back unless `logits_all` (sampling
reads llama.cpp's own logits, which the state restores). Patched here: a state carries no
logits rows, only llama.cpp's state (~12 KB of KV a token for Qwen2.5-0.5B).

Installed by :func:`shipyard.runtime._llama_patch.patch_llama_cpp` in the server process.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CACHE_BYTES", "install_light_states"]

# ~40 states of a 1,000-token prompt and its reply; the server's default is 2 GiB.
CACHE_BYTES = 512 << 20


def install_light_states() -> None:
    """Patch ``Llama.save_state`` / ``load_state`` to leave the logits rows out when the
    model does not keep logits for every token. Idempotent."""
    import llama_cpp.llama as llama_mod

    llama_cls = llama_mod.Llama
    if getattr(llama_cls.save_state, "_shipyard_light", False):
        return
    save, load = llama_cls.save_state, llama_cls.load_state

    def save_state(self: Any) -> Any:
        if self._logits_all:
            return save(self)
        return _without_scores(self, lambda: save(self))

    def load_state(self: Any, state: Any) -> None:
        if self._logits_all or len(state.scores):
            return load(self, state)
        return _without_scores(self, lambda: load(self, state))

    save_state._shipyard_light = True  # type: ignore[attr-defined]
    llama_cls.save_state = save_state
    llama_cls.load_state = load_state


def _without_scores(llm: Any, step: Any) -> Any:
    """Run `step` while the logits buffer reads as empty: the stock code then copies zero
    rows in and out, and does everything else as before."""
    scores = llm.scores
    llm.scores = scores[:0]
    try:
        return step()
    finally:
        llm.scores = scores
