"""The checks that share the cores with the tests start their tools at a lower priority."""

import contextvars
import os
import sys

from shipyard.runtime.proc import in_background, run

NICE = [sys.executable, "-c", "import os; print(os.nice(0))"]


def _background_niceness() -> int:
    in_background()
    return int(run(NICE, cwd=".").stdout)


def test_a_tool_started_in_the_background_runs_niced_and_only_there():
    ours = os.nice(0)
    assert contextvars.copy_context().run(_background_niceness) == min(ours + 10, 19)
    assert int(run(NICE, cwd=".").stdout) == ours  # this context is untouched
