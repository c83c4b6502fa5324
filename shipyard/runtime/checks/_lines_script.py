"""Record which lines run, with sys.monitoring (Python 3.12+), then run a module as -m would.

    python -P _lines_script.py OUT.json SOURCE OMIT -m pytest [args...]

Copied into the check's output folder and run by the target's interpreter in the sandbox,
so it imports nothing but the standard library (never shipyard). Only code objects whose
file lies under SOURCE and matches no OMIT pattern (comma-separated, relative ones taken
from the working directory) get LINE events; everything else runs untraced after its first
call, as coverage.py's sysmon core does — without coverage.py's own start-up (~0.2 s of
imports and path scans per run, half the overhead on a sub-second suite).

OUT.json is written at exit by the process that started, never by a forked child, and
not at all when the process ends without exiting (os._exit, a kill): that absence is
itself a finding for the check.
"""

import atexit
import fnmatch
import json
import os
import runpy
import sys

monitoring = sys.monitoring
EVENTS = monitoring.events


def _tool_id() -> int:
    for tool in (monitoring.COVERAGE_ID, 3, 4):
        if monitoring.get_tool(tool) is None:
            monitoring.use_tool_id(tool, "shipyard-lines")
            return tool
    raise SystemExit("shipyard: no free sys.monitoring tool id for line coverage")


def main(argv: list[str]) -> None:
    out, source, omit, flag, module, *rest = argv
    if flag != "-m":
        raise SystemExit("usage: _lines_script.py OUT.json SOURCE OMIT -m MODULE [ARGS...]")
    cwd = os.getcwd()
    roots = tuple({os.path.join(os.path.abspath(source), ""),
                   os.path.join(os.path.realpath(source), "")})
    patterns = [p if p.startswith("*") else os.path.join(cwd, p) for p in omit.split(",") if p]
    hits: dict[str, set[int]] = {}
    tool = _tool_id()
    started_as = os.getpid()
    own = __file__  # read now: CPython deletes a script's __file__ when it ends, before atexit

    def wanted(filename: str) -> bool:
        if not os.path.isabs(filename) or filename == own:  # "<frozen …>", "<string>"
            return False
        if not filename.startswith(roots) and not os.path.realpath(filename).startswith(roots):
            return False
        return not any(fnmatch.fnmatch(filename, p) for p in patterns)

    # Decided once a file, not once a code object: PY_START fires for each of pytest's and
    # the stdlib's thousands of functions, and realpath() costs syscalls (on crashtest's
    # 0.5 s suite, deciding each code object afresh cost ~80 ms).
    decided: dict[str, bool] = {}

    def on_start(code, offset):
        filename = code.co_filename
        if (want := decided.get(filename)) is None:
            want = decided[filename] = wanted(filename)
        if want:
            hits.setdefault(code.co_filename, set())
            monitoring.set_local_events(tool, code, EVENTS.LINE)
        return monitoring.DISABLE  # each code object is decided once

    def on_line(code, line):
        hits[code.co_filename].add(line)
        return monitoring.DISABLE  # a line is recorded once

    def save() -> None:
        if os.getpid() != started_as:
            return
        monitoring.set_events(tool, 0)
        files: dict[str, set[int]] = {}
        for name, lines in hits.items():  # file names as coverage.py records them
            files.setdefault(os.path.realpath(name), set()).update(lines)
        data = {"files": {f: sorted(lines) for f, lines in files.items()}}
        tmp = f"{out}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, out)

    monitoring.register_callback(tool, EVENTS.PY_START, on_start)
    monitoring.register_callback(tool, EVENTS.LINE, on_line)
    monitoring.set_events(tool, EVENTS.PY_START)
    atexit.register(save)
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
