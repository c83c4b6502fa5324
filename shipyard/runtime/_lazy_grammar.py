"""Grammar-constrained sampling that checks the grammar against the sampled token first.

llama-cpp-python 0.3.36 puts the JSON-schema grammar inside the sampler chain, so every
output token runs the grammar over the whole vocabulary before it is chosen: Qwen2.5's
151,936 tokens each step. Measured on these 2 cores (Qwen2.5-Coder-0.5B, 255-token
prompt): 28 ms a token free, 59 ms a token with a schema. Every structured reply (plans,
reviews, re-asks) paid the double cost.

Upstream llama.cpp's own sampler (`common_sampler_sample`) samples without the grammar,
asks the grammar about that one token, and only when it is refused applies the grammar to
every candidate and samples again. Greedy replies come out identical: the best token the
grammar allows is the best token whenever the grammar allows it. With temperature, a
refused draw is redrawn from the distribution restricted to what the grammar allows, so
each allowed token keeps the probability the full constraint gives it.

Installed by :func:`shipyard.runtime.local.patch_llama_cpp`: in the server subprocess, and
in code that loads llama_cpp directly (benchmarks, tests).
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

__all__ = ["install_lazy_grammar"]


def install_lazy_grammar() -> None:
    """Patch ``Llama._init_sampler`` to keep the grammar out of the chain, and
    ``LlamaSampler.sample`` to consult it per token. Idempotent."""
    import llama_cpp._internals as internals
    import llama_cpp.llama as llama_mod

    llama_cls = llama_mod.Llama
    if getattr(llama_cls._init_sampler, "_shipyard_lazy", False):
        return
    init_sampler = llama_cls._init_sampler
    chain_sample = internals.LlamaSampler.sample

    def _init_sampler(self: Any, *args: Any, grammar: Any = None, **kwargs: Any) -> Any:
        chain = init_sampler(self, *args, grammar=None, **kwargs)
        if grammar is not None:
            judge = internals.LlamaSampler()
            judge.add_grammar(self._model, grammar)
            chain._shipyard_grammar = judge
        return chain

    def sample(self: Any, ctx: Any, idx: int = -1) -> int:
        judge = getattr(self, "_shipyard_grammar", None)
        if judge is None:
            return chain_sample(self, ctx, idx)
        return _sample_lazily(self, judge, ctx, idx)

    _init_sampler._shipyard_lazy = True  # type: ignore[attr-defined]
    _init_sampler._shipyard_stock = init_sampler  # type: ignore[attr-defined]  # for tests
    llama_cls._init_sampler = _init_sampler
    internals.LlamaSampler.sample = sample


def _sample_lazily(chain: Any, judge: Any, ctx: Any, idx: int) -> int:
    import llama_cpp.llama_cpp as capi

    token = capi.llama_sampler_sample(chain.sampler, ctx.ctx, idx)
    if not _allowed(capi, judge, token):
        token = _constrained(capi, chain, judge, ctx, idx)
    capi.llama_sampler_accept(judge.sampler, token)
    return token


def _allowed(capi: Any, judge: Any, token: int) -> bool:
    one = (capi.llama_token_data * 1)(capi.llama_token_data(token, 1.0, 0.0))
    cur = capi.llama_token_data_array(one, 1, -1, False)
    capi.llama_sampler_apply(judge.sampler, ctypes.byref(cur))
    return not math.isinf(cur.data[0].logit)


def _constrained(capi: Any, chain: Any, judge: Any, ctx: Any, idx: int) -> int:
    """The grammar over every candidate, then the chain (penalties, greedy or the
    temperature stack): what llama-cpp-python did for every token before."""
    import numpy as np

    n = ctx.model.n_vocab()
    logits = np.ctypeslib.as_array(capi.llama_get_logits_ith(ctx.ctx, idx), shape=(n,))
    data = (capi.llama_token_data * n)()
    view = np.ctypeslib.as_array(data)
    view["id"] = np.arange(n, dtype=np.int32)
    view["logit"] = logits  # "p" stays 0.0: ctypes arrays start zeroed
    cur = capi.llama_token_data_array(data, n, -1, False)
    capi.llama_sampler_apply(judge.sampler, ctypes.byref(cur))
    capi.llama_sampler_apply(chain.sampler, ctypes.byref(cur))
    return int(cur.data[cur.selected].id)
