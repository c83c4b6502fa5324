"""G7: signed SLSA provenance in a DSSE envelope, and `verify` catching any tampering."""

from __future__ import annotations

import base64
import json
import stat

from shipyard.runtime import keys
from shipyard.runtime.attest import attest_merge, source_digest, verify_attestations


def _attest(repo, tmp_path):
    sbom = tmp_path / "sbom.json"
    sbom.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}')
    head = repo.git("rev-parse", "HEAD")
    return attest_merge(repo.path, head, repo.base, sbom=sbom, checks_json=b'{"passed": true}',
                        run_id="r1")


def test_key_is_created_on_first_use_outside_the_repo_with_private_mode_0600(repo):
    keys.load_or_create_key(repo.path)
    priv = keys.key_dir() / keys.PRIVATE
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert not priv.is_relative_to(repo.path)
    assert not (repo.path / ".shipyard" / "keys").exists()
    sig = keys.sign(repo.path, b"approve G6")
    assert keys.verify(repo.path, b"approve G6", sig)
    assert not keys.verify(repo.path, b"approve G7", sig)
    assert keys.public_key_id(repo.path) == keys.public_key_id(repo.path)  # stable, not recreated


def test_provenance_envelope_is_an_in_toto_slsa_statement_that_verifies(repo, tmp_path):
    path = _attest(repo, tmp_path)
    assert path.name == "r1.intoto.jsonl"
    env = json.loads(path.read_text())
    st = json.loads(base64.b64decode(env["payload"]))
    assert env["payloadType"] == "application/vnd.in-toto+json"
    assert st["_type"] == "https://in-toto.io/Statement/v1"
    assert st["predicateType"] == "https://slsa.dev/provenance/v1"
    head = repo.git("rev-parse", "HEAD")
    assert st["subject"][0]["digest"] == {"sha256": source_digest(repo.path, head),
                                          "gitCommit": head}
    names = {d["name"] for d in st["predicate"]["buildDefinition"]["resolvedDependencies"]}
    assert names == {"base", "sbom", "checks"}
    assert verify_attestations(repo.path) == []
    assert verify_attestations(repo.path, "r1") == []


def test_tampered_provenance_envelope_fails_verify(repo, tmp_path):
    path = _attest(repo, tmp_path)
    env = json.loads(path.read_text())
    st = json.loads(base64.b64decode(env["payload"]))
    st["subject"][0]["digest"]["gitCommit"] = repo.base
    env["payload"] = base64.b64encode(json.dumps(st).encode()).decode()
    path.write_text(json.dumps(env) + "\n")
    problems = verify_attestations(repo.path)
    assert problems and "signature does not verify" in problems[0]


def test_altered_sbom_next_to_the_envelope_fails_verify(repo, tmp_path):
    _attest(repo, tmp_path)
    (repo.path / ".shipyard" / "attestations" / "r1.sbom.cdx.json").write_text("{}")
    assert any("sbom" in p and "altered" in p for p in verify_attestations(repo.path))


def test_missing_envelope_for_a_run_fails_verify(repo):
    assert verify_attestations(repo.path, "nope")
