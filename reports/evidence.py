"""The evidence seal of a certification document: a SHA-256 over its canonical JSON.

A ministry that receives ``certification.json`` recomputes the digest to tell that nobody edited the
verdicts, the reasons or the exchanged messages after the run (``yidi report verify FILE``). The canonical
form is fixed (sorted keys, no spaces, UTF-8, Chinese as itself) so that any JSON library can recompute it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

KEY = "evidence_sha256"


def canonical(doc: Mapping[str, Any]) -> bytes:
    """The bytes the digest covers: the document without its own seal."""
    unsealed = {k: v for k, v in doc.items() if k != KEY}
    return json.dumps(unsealed, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 (lowercase hex) of the document's canonical JSON, ``evidence_sha256`` left out."""
    return hashlib.sha256(canonical(doc)).hexdigest()


def seal(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document with its digest added (any previous seal is replaced)."""
    return {**{k: v for k, v in doc.items() if k != KEY}, KEY: digest(doc)}


def verify(doc: Mapping[str, Any]) -> bool:
    """Whether the document carries a seal and the seal matches its content."""
    sealed = doc.get(KEY)
    return isinstance(sealed, str) and hmac.compare_digest(sealed.lower(), digest(doc))
