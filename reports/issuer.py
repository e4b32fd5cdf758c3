"""Who issues a certificate: a name and an Ed25519 key pair (``cryptography``). The private key signs each
``certification.json`` it writes and stays with the issuer; the public key is what a receiver is given
(``yidi report key`` prints it) to check a certificate with ``yidi report verify --issuer-key``.

The key lives in a PEM file, ``$YIDI_ISSUER_KEY`` or ``~/.config/yidi/issuer-ed25519.pem`` (readable by its
owner only), made on first use; ``yidi certify --issuer-key FILE`` names another.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ENV, NAME_ENV = "YIDI_ISSUER_KEY", "YIDI_ISSUER"


class IssuerError(ValueError):
    """A key file that cannot be read or made: one line naming it."""


@dataclass(frozen=True)
class Issuer:
    name: str
    key: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> Ed25519PublicKey:
        return self.key.public_key()


def default_path() -> Path:
    given = os.environ.get(ENV)
    if given:
        return Path(given).expanduser()
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "yidi" / "issuer-ed25519.pem"


def default_name() -> str:
    return os.environ.get(NAME_ENV) or f"{getpass.getuser()}@{socket.gethostname()}"


def load(path: Path | None = None, name: str | None = None) -> Issuer:
    """The issuer whose private key is at ``path`` (default: :func:`default_path`), made there if there is
    none yet."""
    path = path or default_path()
    if not path.exists():
        _create(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise IssuerError(f"签发密钥不可用 issuer key {path}: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise IssuerError(f"签发密钥不可用 issuer key {path}: not an Ed25519 private key")
    return Issuer(name or default_name(), key, path)


def _create(path: Path) -> None:
    """A new key pair at ``path``, owner-only; written aside and linked in, so that two runs starting at
    once end up with the same key."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, aside = tempfile.mkstemp(dir=path.parent, prefix=".issuer-")  # created 0600
        try:
            os.write(fd, pem)
            os.close(fd)
            os.link(aside, path)
        except FileExistsError:
            pass  # another run made it first: that one is the key
        finally:
            os.unlink(aside)
    except OSError as e:
        raise IssuerError(f"签发密钥无法生成 cannot make the issuer key {path}: {e}") from None


def trusted(path: Path) -> Ed25519PublicKey:
    """A public key to check certificates with, from a file: a PEM public key (what ``yidi report key``
    prints), a PEM private key (its public half), or the base64 raw key a certificate names."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IssuerError(f"签发方公钥不可读 issuer key {path}: {e.strerror}") from None
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return private.public_key()
        elif b"PUBLIC KEY" in data:
            public = serialization.load_pem_public_key(data)
            if isinstance(public, Ed25519PublicKey):
                return public
        else:
            return Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True))
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise IssuerError(f"签发方公钥不可用 issuer key {path}: {e}") from None
    raise IssuerError(f"签发方公钥不可用 issuer key {path}: not an Ed25519 key")


def raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """The key's fingerprint: SHA-256 of its 32 raw bytes, lowercase hex."""
    return hashlib.sha256(raw(public)).hexdigest()


def public_pem(public: Ed25519PublicKey) -> str:
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")
