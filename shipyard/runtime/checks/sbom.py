"""sbom: CycloneDX JSON SBOMs of base and head (cyclonedx-bom), validated, and their diff.

The SBOM lists the dependencies the project declares (pyproject.toml and
requirements*.txt), with the project itself as the root component. Components
added, removed or changed in version are findings for review; with
`policy.sbom_new_components = "block"` a new component fails the check.
The head SBOM is evidence: G7's provenance names its digest.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import shutil
import time
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from ..proc import run as run_proc
from ._testenv import envs_dir
from ._util import (
    DeclaredDep,
    Reader,
    concurrently,
    declared_dependencies,
    evidence,
    finish,
    read_base,
    read_head,
    tool,
    tool_error,
    tracked_files,
    write_whole,
)
from .base import CheckContext, CheckResult, Finding

NAME = "sbom"
_CACHE_VERSION = 1  # bump when what goes into an SBOM here changes


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    sides = {"head": (read_head(ctx), ctx.head)}
    if ctx.base != ctx.head:
        sides["base"] = (read_base(ctx), ctx.base)
    built = dict(zip(sides, concurrently(ctx, *[
        (lambda side=side, read=read, sha=sha: _build(ctx, side, read, sha))
        for side, (read, sha) in sides.items()]), strict=True))
    for result in built.values():
        if isinstance(result, CheckResult):
            return result
    head_path, head_deps = built["head"]  # type: ignore[misc]
    findings: list[Finding] = []
    if "base" in built:
        base_path, _ = built["base"]  # type: ignore[misc]
        findings = diff(_components(base_path), _components(head_path), head_deps)
    block_new = ctx.policy.sbom_new_components == "block"
    findings = [replace(f, fails=block_new and f.rule == "sbom.added") for f in findings]
    added = sum(f.rule == "sbom.added" for f in findings)
    failed = added > 0 and block_new
    ev = tuple(evidence(p) for p in (head_path, built.get("base", (None,))[0]) if p)
    return finish(NAME, started, findings, failed=failed,
                  summary=f"{len(_components(head_path))} component(s); {added} added, "
                          f"{len(findings) - added} removed/changed", evidence=ev)


def _build(ctx: CheckContext, side: str, read: Reader, sha: str
           ) -> tuple[Path, list[DeclaredDep]] | CheckResult:
    work = ctx.scratch / side
    work.mkdir(parents=True, exist_ok=True)
    deps = declared_dependencies(read, tracked_files(ctx.repo, sha))
    reqs = work / "requirements.txt"
    reqs.write_text("".join(f"{d.spec}\n" for d in deps))
    out = ctx.scratch / f"sbom-{side}.cdx.json"
    # --no-validate: the tool's own validation costs ~1.2 s of CPU per run; validate()
    # below checks the same schema in-process with a validator loaded once.
    argv = [tool("cyclonedx-py"), "requirements", str(reqs), "--output-reproducible",
            "--of", "JSON", "--no-validate", "-o", str(out)]
    if (pyproject := _root_pyproject(read, work)) is not None:
        argv[3:3] = ["--pyproject", str(pyproject)]
    cached = _cache_file(argv[0], reqs, pyproject)
    if cached is not None and cached.is_file():
        shutil.copyfile(cached, out)
        return out, deps
    res = run_proc(argv, cwd=work, timeout=ctx.policy.timeout_s)
    if (err := tool_error(NAME, res)) is not None:
        return err
    if not res.ok or not out.is_file():
        return CheckResult(name=NAME, status="error", duration_s=res.duration_s,
                           summary=f"cyclonedx-py failed on {side} (exit {res.returncode}): "
                                   f"{res.stderr.strip()[-300:]}")
    if problem := validate(out):
        return CheckResult(name=NAME, status="error", summary=f"{side} SBOM invalid: {problem}",
                           findings=(Finding(rule="sbom.invalid", severity="high", path=None,
                                             line=None, message=problem),))
    if cached is not None:  # kept once valid: the next check with these inputs reads it
        write_whole(cached, out.read_bytes())
    return out, deps


def _cache_file(exe: str, reqs: Path, pyproject: Path | None) -> Path | None:
    """Where the SBOM of these inputs is kept, or None when the tool cannot be identified.

    With `--output-reproducible` the document is a function of the requirements, the root
    pyproject and the tool: a change to code alone gives the base's SBOM again, and its
    base was the head the previous check generated (two cyclonedx-py runs, 0.5-2.9 s on
    2 cores, competing with the tests for the CPU). The tool is identified by its version
    and its executable's size and mtime: an upgrade writes a new one."""
    try:
        version = importlib.metadata.version("cyclonedx-bom")
        st = Path(exe).stat()
    except (importlib.metadata.PackageNotFoundError, OSError):
        return None
    key = hashlib.sha256(json.dumps([_CACHE_VERSION, version, exe, st.st_size, st.st_mtime_ns,
                                     reqs.read_text(), pyproject.read_text() if pyproject
                                     else None]).encode()).hexdigest()
    return envs_dir().parent / "sbom" / f"{key[:32]}.cdx.json"


def _root_pyproject(read: Reader, work: Path) -> Path | None:
    """The project's pyproject.toml, when it names the project well enough to be the root."""
    text = read("pyproject.toml")
    if text is None:
        return None
    try:
        project = tomllib.loads(text).get("project", {})
    except tomllib.TOMLDecodeError:
        return None
    if not (project.get("name") and project.get("version")):
        return None
    path = work / "pyproject.toml"
    path.write_text(text)
    return path


def validate(path: Path) -> str | None:
    """None when `path` is a CycloneDX JSON document valid against its schema, else why not."""
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc}"
    if doc.get("bomFormat") != "CycloneDX":
        return "bomFormat is not CycloneDX"
    try:
        validator = _validator(str(doc.get("specVersion", "")))
    except ValueError:
        return f"unknown specVersion {doc.get('specVersion')!r}"
    error = next(iter(validator.iter_errors(doc)), None)
    return f"{error.message} at {'/'.join(map(str, error.absolute_path))}" if error else None


@functools.cache
def _validator(spec_version: str) -> Any:
    """A Draft-7 validator for CycloneDX's strict JSON schema of `spec_version`, built once.

    Same schema and registry as cyclonedx's JsonStrictValidator, minus its format checker:
    checking `iri-reference` formats runs a lark Earley parser that costs ~1 s per SBOM,
    more than generating it. Structure, types, enums and SPDX ids are still validated.
    """
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from jsonschema import Draft7Validator

    strict = JsonStrictValidator(SchemaVersion.from_version(spec_version))
    registry = getattr(strict, "_BaseJsonValidator__make_validator_registry", None)
    if strict._schema_file is None or registry is None:  # library internals moved: be strict
        return strict._validator
    schema = json.loads(Path(strict._schema_file).read_text())
    return Draft7Validator(schema, registry=registry())


def _components(path: Path) -> dict[str, str | None]:
    doc = json.loads(path.read_text())
    return {canonicalize_name(c["name"]): c.get("version") for c in doc.get("components", [])}


def diff(base: dict[str, str | None], head: dict[str, str | None],
         head_deps: list[DeclaredDep]) -> list[Finding]:
    """Components added, removed and changed in version, base -> head."""
    where = {d.name: d for d in head_deps}
    out = []
    for name in sorted(head.keys() - base.keys()):
        d = where.get(name)
        out.append(Finding(rule="sbom.added", severity="info", path=d.path if d else None,
                           line=d.line if d else None,
                           message=f"new component {name} {head[name] or '(unpinned)'}: review "
                                   f"its maintenance, license and advisories"))
    for name in sorted(base.keys() - head.keys()):
        out.append(Finding(rule="sbom.removed", severity="info", path=None, line=None,
                           message=f"component {name} {base[name] or ''} removed".strip()))
    for name in sorted(base.keys() & head.keys()):
        if base[name] != head[name]:
            d = where.get(name)
            out.append(Finding(rule="sbom.changed", severity="info", path=d.path if d else None,
                               line=d.line if d else None,
                               message=f"{name} {base[name] or '(unpinned)'} -> "
                                       f"{head[name] or '(unpinned)'}"))
    return out
