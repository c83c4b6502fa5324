"""The user's Ed25519 signing key, kept *outside* the repository it vouches for.

It signs the provenance of every merge (DSSE envelopes, see attest.py) and the
approval rows of the ledger. The key lives in `$SHIPYARD_KEYS_DIR`, else
`$SHIPYARD_HOME/keys`, else `~/.config/shipyard/keys` — never next to the
ledger and checkpoints in `<repo>/.shipyard/`, where anything that can write
those could also re-sign them — and the sandbox hides it from model-written
code. The private key is created with mode 0600; verifiers read the public
key from the same folder, and `shipyard verify` also checks it against the key
id each merge commit records (`Shipyard-Key:`). A key an older shipyard left in
`<repo>/.shipyard/keys/` is moved out on first use.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import UserError

__all__ = [
    "KeyError_",
    "key_dir",
    "key_id",
    "legacy_key_dir",
    "load_or_create_key",
    "load_public_key",
    "public_key_id",
    "sign",
    "verify",
    "verify_with",
]

PRIVATE = "signing.ed25519.pem"
PUBLIC = "signing.ed25519.pub.pem"


class KeyError_(UserError):
    """The signing key is unreadable or has unsafe permissions."""


def key_dir(repo: Path | None = None) -> Path:
    """Where the signing key lives: outside every repository (see the module docstring)."""
    if explicit := os.environ.get("SHIPYARD_KEYS_DIR"):
        return Path(explicit).expanduser()
    if home := os.environ.get("SHIPYARD_HOME"):
        return Path(home).expanduser() / "keys"
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(config) / "shipyard" / "keys"


def legacy_key_dir(repo: Path) -> Path:
    """Where shipyard kept the key before it moved out of the repository."""
    return Path(repo) / ".shipyard" / "keys"


def load_or_create_key(repo: Path) -> tuple[Ed25519PrivateKey, Ed25519PublicKey]:
    """The user's keypair, generated on first use (private key file mode 0600)."""
    d = key_dir(repo)
    priv_path = d / PRIVATE
    if not priv_path.exists():
        _adopt_legacy(repo, d)
    if not priv_path.exists():
        _create(d)
    mode = priv_path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeyError_(f"{priv_path} is readable by others (mode {mode:o}); run "
                        f"`chmod 600 {priv_path}`")
    try:
        key = serialization.load_pem_private_key(priv_path.read_bytes(), password=None)
    except ValueError as exc:
        raise KeyError_(f"{priv_path} is not a PEM private key ({exc}); restore it from backup, "
                        f"or move it away to start a new key (old signatures then fail)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_(f"{priv_path} is not an Ed25519 key; move it away to create a new one")
    return key, key.public_key()


def _create(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # O_EXCL + 0600 at creation: the key is never, even briefly, readable by others,
    # and two processes racing to create it cannot both win.
    try:
        fd = os.open(d / PRIVATE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    (d / PUBLIC).write_bytes(pub)


def _adopt_legacy(repo: Path, d: Path) -> None:
    """Move a key an older shipyard kept inside the repository out of it (once)."""
    old = legacy_key_dir(repo)
    if not (old / PRIVATE).is_file():
        return
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    fd = os.open(d / PRIVATE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write((old / PRIVATE).read_bytes())
    if (old / PUBLIC).is_file():
        (d / PUBLIC).write_bytes((old / PUBLIC).read_bytes())
    (old / PRIVATE).unlink()


def load_public_key(repo: Path) -> Ed25519PublicKey:
    """The public key, without creating anything (for verifiers)."""
    path = key_dir(repo) / PUBLIC
    if not path.is_file() and (legacy_key_dir(repo) / PRIVATE).is_file():
        load_or_create_key(repo)  # a legacy key still inside the repo: move it out first
    if not path.is_file():
        raise KeyError_(f"no public key at {path}; nothing has been signed with this user's key "
                        f"yet, or the key lives elsewhere: set SHIPYARD_KEYS_DIR to its folder")
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise KeyError_(f"{path} is not an Ed25519 public key")
    return key


def public_key_id(repo: Path) -> str:
    """sha256 of the raw public key, hex: names the key in signatures and envelopes."""
    _, pub = load_or_create_key(repo)
    return key_id(pub)


def key_id(pub: Ed25519PublicKey) -> str:
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign(repo: Path, payload: bytes) -> str:
    """Ed25519 signature of `payload`, base64."""
    key, _ = load_or_create_key(repo)
    return base64.b64encode(key.sign(payload)).decode("ascii")


def verify(repo: Path, payload: bytes, sig: str) -> bool:
    """Whether `sig` (base64) is the repo key's signature of `payload`."""
    return verify_with(load_public_key(repo), payload, sig)


def verify_with(pub: Ed25519PublicKey, payload: bytes, sig: str) -> bool:
    try:
        pub.verify(base64.b64decode(sig, validate=True), payload)
    except (InvalidSignature, ValueError):
        return False
    return True
