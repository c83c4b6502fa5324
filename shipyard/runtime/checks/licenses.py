"""licenses: the licenses of the declared dependencies and what they pull in.

`pip-licenses --from all` reads the target's environment (its own `.venv` when
it has one); each license is mapped to an SPDX expression with
license-expression and judged against `policy.license_allow` / `license_deny`:
`A OR B` passes when either side is allowed, `A AND B` needs both. A license
that cannot be mapped to SPDX is "unknown" and `policy.unknown_license` decides.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections import deque
from dataclasses import replace

from license_expression import (
    AND,
    OR,
    LicenseSymbol,
    Licensing,
    get_spdx_licensing,
)
from packaging.utils import canonicalize_name

from ..proc import ProcResult
from ..proc import run as run_proc
from ._license_text import identify_text, looks_like_text
from ._util import (
    DeclaredDep,
    declared_dependencies,
    evidence,
    finish,
    read_head,
    target_python,
    tool,
    tool_error,
    tracked_files,
)
from .base import CheckContext, CheckResult, Finding

NAME = "licenses"
# Trove classifiers (as pip-licenses prints them) and common free-text spellings -> SPDX.
_ALIASES = {
    "mit license": "MIT", "mit": "MIT", "the mit license": "MIT", "expat": "MIT",
    "apache software license": "Apache-2.0", "apache 2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0", "apache license, version 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0", "apache 2": "Apache-2.0", "apache license version 2.0": "Apache-2.0",
    "bsd license": "BSD-3-Clause", "bsd": "BSD-3-Clause", "new bsd license": "BSD-3-Clause",
    "simplified bsd license": "BSD-2-Clause", "3-clause bsd license": "BSD-3-Clause",
    "isc license (iscl)": "ISC", "isc license": "ISC",
    "python software foundation license": "PSF-2.0", "psf license": "PSF-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "gnu general public license (gpl)": "GPL-2.0-or-later", "gplv3": "GPL-3.0-only",
    "gplv2": "GPL-2.0-only", "gpl": "GPL-2.0-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0-only",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0-or-later",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu affero general public license v3": "AGPL-3.0-only",
    "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
    "the unlicense (unlicense)": "Unlicense", "public domain": "LicenseRef-Public-Domain",
    "cc0 1.0 universal (cc0 1.0) public domain dedication": "CC0-1.0",
    "zlib/libpng license": "Zlib", "historical permission notice and disclaimer (hpnd)": "HPND",
}

# Resolve requirement closures inside the target's Python: only it knows what is installed there.
_CLOSURE = r"""
import json, re, sys
from importlib.metadata import distributions
try:
    from packaging.requirements import Requirement
except ImportError:
    try:
        from pip._vendor.packaging.requirements import Requirement
    except ImportError:
        Requirement = None
def applies(r):
    # Markers are judged here, in the target's interpreter: "tomli; python_version < '3.11'"
    if Requirement is None:
        return "extra ==" not in r and "extra==" not in r
    try:
        req = Requirement(r)
        return req.marker is None or req.marker.evaluate({"extra": ""})
    except Exception:
        return False
out = {}
for d in distributions():
    name = re.sub(r"[-_.]+", "-", (d.metadata["Name"] or "")).lower()
    reqs = []
    for r in d.requires or []:
        if not applies(r):
            continue
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", r)
        if m:
            reqs.append(re.sub(r"[-_.]+", "-", m.group(1)).lower())
    out.setdefault(name, {"version": d.version, "requires": reqs})
json.dump(out, sys.stdout)
"""


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    deps = declared_dependencies(read_head(ctx), tracked_files(ctx.repo, ctx.head))
    if not deps:
        return finish(NAME, started, [], failed=False, summary="no declared dependencies")
    py = target_python(ctx.env_root)
    env_res = run_proc([py, "-c", _CLOSURE], cwd=ctx.scratch, timeout=120)
    if (err := _failed(env_res)) is not None:
        return err
    installed = json.loads(env_res.stdout)
    closure = _closure(deps, installed)
    # Only the closure: reading every distribution's license costs 4x more on a big env.
    wanted = sorted(n for n in closure if n in installed)
    lic_res = run_proc([tool("pip-licenses"), "--python", py, "--from", "all", "--format",
                        "json", "--with-system", "--packages", *wanted],
                       cwd=ctx.scratch, timeout=ctx.policy.timeout_s) if wanted else None
    if lic_res is not None and (err := _failed(lic_res)) is not None:
        return err
    report = ctx.scratch / "pip-licenses.json"
    report.write_text(lic_res.stdout if lic_res else "[]")
    licenses = {canonicalize_name(p["Name"]): p for p in json.loads(report.read_text())}
    findings, failed = [], False
    for name, root in closure.items():
        f, blocks = _judge_safely(ctx, name, root, installed, licenses.get(name))
        if f:
            findings.append(replace(f, fails=blocks))
            failed |= blocks
    return finish(NAME, started, findings, failed=failed,
                  summary=f"{len(findings)} finding(s) over the dependencies of {len(deps)} "
                          f"declared (python: {py})", evidence=(evidence(report),))


def _failed(res: ProcResult) -> CheckResult | None:
    if (err := tool_error(NAME, res)) is not None:
        return err
    if res.ok:
        return None
    return CheckResult(name=NAME, status="error", duration_s=res.duration_s,
                       summary=f"{res.args[0]} exited {res.returncode}: {res.stderr.strip()[-300:]}")


def _closure(deps: list[DeclaredDep], installed: dict) -> dict[str, DeclaredDep]:
    """Every package the declared ones pull in, mapped to the declaration that pulled it."""
    seen: dict[str, DeclaredDep] = {}
    queue = deque((d.name, d) for d in deps)
    while queue:
        name, root = queue.popleft()
        if name in seen:
            continue
        seen[name] = root
        queue.extend((r, root) for r in installed.get(name, {}).get("requires", []))
    return seen


def _judge_safely(ctx: CheckContext, name: str, root: DeclaredDep, installed: dict,
                  info: dict | None) -> tuple[Finding | None, bool]:
    """`_judge`, with any exception turned into a finding naming the package and its fields:
    one odd package must not crash the check for all the others; policy decides."""
    try:
        return _judge(ctx, name, root, installed, info)
    except Exception as exc:  # noqa: BLE001 — odd metadata is a finding, never a crash
        fields = ", ".join(k for k in _FIELDS if (info or {}).get(k)) or "no license field"
        blocks = ctx.policy.unknown_license == "block"
        return Finding(rule="licenses.unreadable", severity="medium" if blocks else "low",
                       path=root.path, line=root.line,
                       message=f"{name}: its license metadata ({fields}) could not be judged "
                               f"({type(exc).__name__}: {exc}); read the package's license and "
                               f"add its SPDX id to policy.license_allow if acceptable"), blocks


def _judge(ctx: CheckContext, name: str, root: DeclaredDep, installed: dict,
           info: dict | None) -> tuple[Finding | None, bool]:
    pol = ctx.policy
    via = "" if root.name == name else f" (via {root.name})"
    unknown_sev = "medium" if pol.unknown_license == "block" else "low"
    if name not in installed or info is None:
        return Finding(rule="licenses.not-installed", severity=unknown_sev, path=root.path,
                       line=root.line, message=f"{name}{via} is not installed in the target's "
                       f"environment, so its license is unknown; install the project's "
                       f"dependencies (e.g. into <repo>/.venv)"), pol.unknown_license == "block"
    expr, raw = spdx_expression(info)
    if expr is None:
        return Finding(rule="licenses.unknown", severity=unknown_sev, path=root.path,
                       line=root.line, message=f"{name} {info.get('Version')}{via}: license "
                       f"{_short(raw)!r} is not an SPDX expression nor a license text we "
                       f"recognise; read it, then allow its SPDX id in [policy] license_allow"), \
        pol.unknown_license == "block"
    verdict = _allowed(_parse(expr), set(pol.license_allow),
                       set(pol.license_deny))
    if verdict is True:
        return None, False
    return Finding(rule=f"licenses.{'denied' if verdict == 'denied' else 'not-allowed'}",
                   severity="high", path=root.path, line=root.line,
                   message=f"{name} {info.get('Version')}{via} is licensed {expr}, "
                           f"{'denied' if verdict == 'denied' else 'not on the allow list'} "
                           f"by policy"), True


def _short(raw: str) -> str:
    """The first line of a license field, at most 80 characters (fields can be whole files)."""
    first = raw.strip().splitlines()[0] if raw.strip() else raw
    return first if len(first) <= 80 and first == raw.strip() else first[:77] + "..."


@functools.cache
def _licensing() -> Licensing:
    """The SPDX license index; building it takes ~30 ms, so once per process."""
    return get_spdx_licensing()


@functools.cache
def _parse(expr: str) -> object:
    return _licensing().parse(expr)


# The metadata fields that can name a license, most authoritative first (pip-licenses' names).
_FIELDS = ("License-Expression", "License-Metadata", "License-Classifier", "License")
_ALTERNATIVES = re.compile(r"\s*[;/]\s*|\s+or\s+", re.IGNORECASE)  # not the -or- of -or-later


def spdx_expression(info: dict) -> tuple[str | None, str]:
    """The package's license as a normalized SPDX expression, or None and the raw text.

    Tries each field in turn: an SPDX expression as written (PEP 639), then names and
    classifiers mapped through the aliases (`A; B`, `A or B`, `A/B` mean the user may pick),
    then a full license text matched by content. Nothing here raises on odd input.
    """
    raws = [str(r) for r in (info.get(k) for k in _FIELDS) if r and str(r).strip() != "UNKNOWN"]
    for raw in raws:
        if (expr := _from_field(raw)) is not None:
            return expr, raw
    return None, raws[0] if raws else "UNKNOWN"


def _from_field(raw: str) -> str | None:
    if looks_like_text(raw):
        return _validated(identify_text(raw))
    if (expr := _name(raw)) is not None:
        return expr
    names = _names(raw)
    return _validated(" OR ".join(f"({n})" if " " in n else n for n in names))


def _name(text: str) -> str | None:
    """One license name or expression as SPDX: an alias, else the text if it validates."""
    return _validated(_ALIASES.get(text.strip().lower(), text.strip()))


def _names(raw: str) -> list[str]:
    """The licenses a free-text field offers: split on `;`, `/`, `or`, and on commas where
    the pieces are names ("MIT License, Apache License, Version 2.0" is two, not three)."""
    names: list[str] = []
    for part in filter(str.strip, _ALTERNATIVES.split(raw)):
        pending = ""
        for piece in part.split(","):
            pending = f"{pending}, {piece.strip()}" if pending else piece.strip()
            if (name := _name(pending)) is not None:
                names.append(name)
                pending = ""
        if pending:
            names.append(pending)  # unresolved: the whole candidate will not validate
    return names


def _validated(candidate: str | None) -> str | None:
    """The normalized expression, or None when it is no valid SPDX expression.

    license-expression raises AttributeError from inside its own ExpressionError path on
    some inputs (DESIGN §5), so every exception means "not an expression" here.
    """
    if not candidate:
        return None
    try:
        info = _licensing().validate(candidate)
    except Exception:  # noqa: BLE001 — see the docstring: the parser's own error path crashes
        return None
    if info.errors or not info.normalized_expression:
        return None
    return info.normalized_expression


def _allowed(node, allow: set[str], deny: set[str]) -> bool | str:
    """True if allowed; "denied" or "not-allowed" otherwise. OR needs one side, AND both."""
    node = getattr(node, "license_symbol", node)  # "X WITH exception" is judged as X
    if isinstance(node, LicenseSymbol):
        if node.key in deny:
            return "denied"
        return True if node.key in allow else "not-allowed"
    verdicts = [_allowed(a, allow, deny) for a in node.args]
    if isinstance(node, OR):
        return True if True in verdicts else ("denied" if "denied" in verdicts else "not-allowed")
    if isinstance(node, AND):
        bad = [v for v in verdicts if v is not True]
        return True if not bad else ("denied" if "denied" in bad else "not-allowed")
    return "not-allowed"
