"""G7 provenance: an in-toto Statement with an SLSA v1 predicate, in a signed DSSE envelope.

The subject is the merge commit's source tree (every file, read from git's
objects whatever the tree's attributes say: `source_digest`); the resolved
dependencies ("materials") are the base commit, the SBOM and the check
results, by digest. The envelope is signed with the user's Ed25519 key (keys.py) and written to `.shipyard/attestations/<run_id>.intoto.jsonl`
with the SBOM and check results next to it, so `verify_attestations` can
re-derive every digest and catch any edit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from . import keys
from .gittree import tree_digest

__all__ = [
    "BUILD_TYPE",
    "PAYLOAD_TYPE",
    "attest_merge",
    "attestation_dir",
    "pae",
    "source_digest",
    "verify_attestations",
]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://github.com/shipyard-ai/shipyard/merge/v1"
BUILDER_ID = "https://github.com/shipyard-ai/shipyard"


def attestation_dir(repo: Path) -> Path:
    return Path(repo) / ".shipyard" / "attestations"


def source_digest(repo: Path, sha: str) -> str:
    """sha256 of commit `sha`'s whole tree, read from git's objects (gittree.tree_digest).

    Not `git archive`: the tree's own `.gitattributes` (export-ignore) could leave
    files out of the digest — the source attested would not be the source merged."""
    try:
        return tree_digest(repo, sha)
    except RuntimeError as exc:
        raise ValueError(str(exc)) from exc


def _legacy_archive_digest(repo: Path, sha: str) -> str:
    """The `git archive` digest subjects named `….tar` carry (attestations before trees)."""
    h = hashlib.sha256()
    with subprocess.Popen(["git", "archive", "--format=tar", sha], cwd=repo,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
            h.update(chunk)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise ValueError(f"git archive {sha} failed: {err.strip()}")
    return h.hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what is actually signed."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def attest_merge(repo: Path, merge_sha: str, base_sha: str, *, sbom: Path | None,
                 checks_json: bytes, run_id: str) -> Path:
    """Sign the provenance of `merge_sha`; return the envelope's path."""
    repo = Path(repo)
    out_dir = attestation_dir(repo)
    out_dir.mkdir(parents=True, exist_ok=True)
    checks_path = out_dir / f"{run_id}.checks.json"
    checks_path.write_bytes(checks_json)
    deps = [{"uri": f"git+file://{repo.resolve()}@{base_sha}", "name": "base",
             "digest": {"gitCommit": base_sha}},
            {"name": "checks", "uri": checks_path.name,
             "digest": {"sha256": hashlib.sha256(checks_json).hexdigest()}}]
    if sbom is not None:
        sbom_copy = out_dir / f"{run_id}.sbom.cdx.json"
        data = Path(sbom).read_bytes()
        sbom_copy.write_bytes(data)
        deps.append({"name": "sbom", "uri": sbom_copy.name, "mediaType":
                     "application/vnd.cyclonedx+json",
                     "digest": {"sha256": hashlib.sha256(data).hexdigest()}})
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": f"{repo.resolve().name}@{merge_sha}.tree",
                     "digest": {"sha256": source_digest(repo, merge_sha), "gitCommit": merge_sha}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {"buildType": BUILD_TYPE,
                                "externalParameters": {"run_id": run_id, "base": base_sha,
                                                       "merge": merge_sha},
                                "resolvedDependencies": deps},
            "runDetails": {"builder": {"id": BUILDER_ID},
                           "metadata": {"invocationId": run_id, "finishedOn": now}},
        },
    }
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    envelope = {"payloadType": PAYLOAD_TYPE,
                "payload": base64.b64encode(payload).decode("ascii"),
                "signatures": [{"keyid": keys.public_key_id(repo),
                                "sig": keys.sign(repo, pae(PAYLOAD_TYPE, payload))}]}
    path = out_dir / f"{run_id}.intoto.jsonl"
    path.write_text(json.dumps(envelope, sort_keys=True) + "\n")
    return path


def verify_attestations(repo: Path, run_id: str | None = None) -> list[str]:
    """Problems with the attestations of `run_id` (or all of them); empty means all verify."""
    repo = Path(repo)
    d = attestation_dir(repo)
    paths = [d / f"{run_id}.intoto.jsonl"] if run_id else sorted(d.glob("*.intoto.jsonl"))
    problems: list[str] = []
    for path in paths:
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                problems += [f"{path.name}:{n}: {p}" for p in _verify_envelope(repo, d, line)]
    return problems


def _verify_envelope(repo: Path, d: Path, line: str) -> list[str]:
    try:
        env = json.loads(line)
        payload = base64.b64decode(env["payload"], validate=True)
        sigs = env["signatures"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"not a DSSE envelope ({exc})"]
    try:
        pub = keys.load_public_key(repo)
    except keys.KeyError_ as exc:
        return [str(exc)]
    if env.get("payloadType") != PAYLOAD_TYPE:
        return [f"payloadType {env.get('payloadType')!r} is not {PAYLOAD_TYPE}"]
    signed = pae(PAYLOAD_TYPE, payload)
    if not any(keys.verify_with(pub, signed, s.get("sig", "")) for s in sigs):
        return ["signature does not verify with the repository key: envelope was altered"]
    try:
        st = json.loads(payload)
        subject = st["subject"][0]["digest"]
        deps = st["predicate"]["buildDefinition"]["resolvedDependencies"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return [f"signed statement is malformed ({exc})"]
    problems = []
    if st.get("_type") != STATEMENT_TYPE or st.get("predicateType") != PREDICATE_TYPE:
        problems.append("not an in-toto v1 statement with an SLSA v1 provenance predicate")
    try:
        legacy = str(st["subject"][0].get("name", "")).endswith(".tar")
        digest = (_legacy_archive_digest if legacy else source_digest)(repo, subject["gitCommit"])
        if digest != subject["sha256"]:
            problems.append(f"source archive of {subject['gitCommit']} no longer matches the "
                            f"attested digest")
    except ValueError as exc:
        problems.append(f"attested commit is not in the repository: {exc}")
    for dep in deps:
        if "sha256" in dep.get("digest", {}) and dep.get("uri"):
            file = d / Path(dep["uri"]).name
            if not file.is_file():
                problems.append(f"{dep['name']} file {file.name} is missing")
            elif hashlib.sha256(file.read_bytes()).hexdigest() != dep["digest"]["sha256"]:
                problems.append(f"{dep['name']} file {file.name} was altered after signing")
    return problems
