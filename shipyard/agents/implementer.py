"""Implementer: writes the change as targeted edits in plain text (G5), and fixes findings.

Its reply is Markdown code blocks, not JSON: `agents/edits.py` parses and applies
them, and G5's inner loop (`graphs/build.py`) runs the acceptance cases before
anything is committed.
"""

from __future__ import annotations

from .base import TextTask

IMPLEMENT = TextTask(role="implementer", task="implement")
# A first attempt at declared stubs, posed with only the stubs and their imports
# (graphs/build.py). The same task in the ledger: one Implementer attempt, another prompt.
COMPLETE = TextTask(role="implementer", task="implement", section="complete")
# The stub alone, as HumanEval poses a problem: its docstring carries the request. One of
# the two greedy prompts of G5's inner loop (graphs/build.py says what each is worth).
COMPLETE_PLAIN = TextTask(role="implementer", task="implement", section="complete_plain")
