"""The signature of a certification document: Ed25519 by the party that issued it (issuer.py), over the
document's canonical JSON.

A digest alone proves nothing: anyone can edit a document and compute it again. A signature can only be
made with the issuer's private key, and is checked with its public key, which the receiver has from the
issuer (``yidi report verify FILE --issuer-key KEY``). The document names its issuer (``issuer``: name,
key_id, public_key) inside what is signed; checked with that embedded key alone, a signature shows only
that nobody edited the document since whoever holds that key signed it.

The canonical form is fixed (sorted keys, no spaces, UTF-8, Chinese as itself) so that any JSON library
and any Ed25519 implementation can check it: the signature is over ``canonical(doc)``, base64 in
``signature.value``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import issuer as issuers

KEY, ISSUER = "signature", "issuer"
LEGACY = "evidence_sha256"  # the bare digest of earlier documents: never a seal
ALG = "Ed25519"

State = Literal["consistent", "edited", "other_issuer", "unsigned"]


def canonical(doc: Mapping[str, Any]) -> bytes:
    """The bytes the signature covers: the document without its signature (nor an old digest)."""
    unsigned = {k: v for k, v in doc.items() if k not in (KEY, LEGACY)}
    return json.dumps(unsigned, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 (lowercase hex) of the canonical JSON: a name for the content, not a proof of anything."""
    return hashlib.sha256(canonical(doc)).hexdigest()


def sign(doc: Mapping[str, Any], name: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The document with its issuer named and its signature added (any previous one replaced)."""
    public = key.public_key()
    named = {k: v for k, v in doc.items() if k not in (KEY, LEGACY, ISSUER)} | {
        ISSUER: {
            "name": name,
            "key_id": issuers.key_id(public),
            "public_key": base64.b64encode(issuers.raw(public)).decode("ascii"),
        }
    }
    value = base64.b64encode(key.sign(canonical(named))).decode("ascii")
    return named | {KEY: {"alg": ALG, "value": value}}


@dataclass(frozen=True)
class Check:
    state: State
    issuer: str | None = None  # the name the document gives
    key_id: str | None = None  # the key it names (checked: the key it was signed with)


def check(doc: Mapping[str, Any], trusted: Ed25519PublicKey | None = None) -> Check:
    """Whether the document is as its issuer signed it. ``trusted``: the issuer's public key, as the
    receiver has it; without it, the key the document names (integrity only: anyone can sign with a key
    of their own). ``other_issuer``: the document names another key than the one trusted."""
    named_by = doc.get(ISSUER)
    who: Mapping[str, Any] = named_by if isinstance(named_by, Mapping) else {}
    name, named = who.get("name"), who.get("key_id")
    sig = doc.get(KEY)
    if not isinstance(sig, Mapping) or sig.get("alg") != ALG or not isinstance(sig.get("value"), str):
        return Check("unsigned", name, named)
    try:
        signature = base64.b64decode(sig["value"], validate=True)
        embedded = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(str(who.get("public_key")), validate=True)
        )
    except (binascii.Error, ValueError):
        return Check("edited", name, named)
    if named != issuers.key_id(embedded):
        return Check("edited", name, named)
    if trusted is not None and issuers.key_id(trusted) != named:
        return Check("other_issuer", name, named)
    try:
        (trusted or embedded).verify(signature, canonical(doc))
    except InvalidSignature:
        return Check("edited", name, named)
    return Check("consistent", name, named)


def verify(doc: Mapping[str, Any], trusted: Ed25519PublicKey | None = None) -> bool:
    return check(doc, trusted).state == "consistent"
