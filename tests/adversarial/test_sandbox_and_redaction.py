"""Items 9 and 10: credential files stay hidden from model-written code, and secrets
in any common format (or wrapped in base64) never reach a prompt or the ledger."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from shipyard.runtime.redact import redact_text
from shipyard.runtime.sandbox import SECRET_FILES, bwrap_path, wrap

CREDENTIALS = "machine github.com login me password ghp_" + "A" * 36 + "\n"


@pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")
@pytest.mark.parametrize("name", [".netrc", ".git-credentials", ".pypirc", ".npmrc"])
def test_sandboxed_code_reads_credential_files_as_empty(tmp_path, monkeypatch, name):
    home = tmp_path / "home"
    home.mkdir()
    (home / name).write_text(CREDENTIALS)
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    # HOME is mounted back in (as a venv under it would be): the file must stay hidden anyway.
    argv = wrap(["cat", str(home / name)], workdir=work, writable=[work], readable=[home])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "", f"{name} leaked into the sandbox"


def test_every_issue_named_credential_file_is_hidden():
    assert {".netrc", ".git-credentials", ".pypirc", ".npmrc"} <= set(SECRET_FILES)


TOKEN = "ghp_" + "B" * 36


@pytest.mark.parametrize("secret, kept", [
    ("sk_live_" + "a1" * 12, None),
    ("glpat-" + "x" * 20, None),
    ("pypi-AgEIcHlwaS5vcmc" + "Q" * 60, None),
    ("postgres://app:hunter2@db.internal:5432/app", "postgres://app:"),
    (base64.b64encode(f"token={TOKEN}".encode()).decode(), None),
    (base64.b64encode(f"user:{TOKEN}".encode()).decode(), None),
], ids=["stripe", "gitlab", "pypi", "db-url", "base64", "basic-auth-blob"])
def test_common_token_formats_are_redacted(secret, kept):
    out = redact_text(f"config: {secret} end")
    assert "[REDACTED:" in out, out
    secret_part = secret.removeprefix(kept or "")
    assert secret_part not in out
    if kept:
        assert kept in out  # the URL stays readable, only the password goes


def test_ordinary_base64_is_left_alone():
    blob = base64.b64encode(b"just some ordinary configuration text").decode()
    assert redact_text(blob) == blob


def test_a_redacted_secret_never_reaches_the_ledger(tmp_path: Path):
    from shipyard.runtime.ledger import Ledger

    ledger = Ledger(tmp_path / "ledger.db")
    ledger.event("r1", "diff", data="+DATABASE_URL=postgres://app:hunter2@db/app\n"
                                     "+STRIPE=sk_live_" + "z9" * 12)
    stored = repr(ledger.rows("events"))
    assert "hunter2" not in stored and "sk_live_z9" not in stored
    assert "[REDACTED:url-password]" in stored


@pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")
def test_sandboxed_code_cannot_see_the_signing_key_wherever_it_lives(tmp_path, monkeypatch):
    keydir = tmp_path / "my-keys"
    keydir.mkdir()
    (keydir / "signing.ed25519.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    monkeypatch.setenv("SHIPYARD_KEYS_DIR", str(keydir))
    work = tmp_path / "work"
    work.mkdir()
    # even when a folder above it is mounted back in
    argv = wrap(["ls", "-A", str(keydir)], workdir=work, writable=[work], readable=[tmp_path])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert out.stdout.strip() == "", "the signing key is visible to model-written code"
