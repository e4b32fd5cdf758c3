"""The TIF gateway's signature and the two addressing styles, as transport.yaml states them.

Pure functions: no sockets. The simulators verify with :func:`verify`, clients sign with
:func:`sign_headers`, and both build URLs with :func:`url`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Callable, Mapping
from typing import Any

from .model import Spec, Transaction


def signature(spec: Spec, timestamp: str, secret: str, nonce: str) -> str:
    """x-tif-signature: lowercase hex SHA-256 of the spec's message template (ts+secret+nonce+ts)."""
    template, digest = _signer(spec)
    message = template % {"timestamp": timestamp, "secret": secret, "nonce": nonce}
    return str(digest(message.encode()).hexdigest())


def _signer(spec: Spec) -> tuple[str, Callable[[bytes], Any]]:
    """The spec's message template as a %-format, and its hash. Every request is verified: str.format
    costs half as much again, and hashlib.new looks the algorithm up on every call."""
    key = ("signer",)
    if key not in spec.cache:
        sig = spec.transport["signature"]
        template = "".join(
            text.replace("%", "%%") + (f"%({name})s" if name else "")
            for text, name, _, _ in string.Formatter().parse(sig["message"])
        )
        algorithm = sig["algorithm"]
        digest = getattr(hashlib, algorithm, None) or (lambda data: hashlib.new(algorithm, data))
        spec.cache[key] = template, digest
    return spec.cache[key]  # type: ignore[no-any-return]


def _header_names(spec: Spec) -> list[tuple[str, str, str]]:
    """(key, header name, lowercase name) of the four x-tif headers, in the order they are checked."""
    key = ("signature-headers",)
    if key not in spec.cache:
        names = spec.transport["signature"]["headers"]
        spec.cache[key] = [
            (k, names[k], names[k].lower()) for k in ("paasid", "timestamp", "nonce", "signature")
        ]
    return spec.cache[key]  # type: ignore[no-any-return]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its lowercase name: at once from a mapping with lowercase names (ASGI's) or a
    case-insensitive one, else by a scan of the names."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def tif_headers(spec: Spec, headers: Mapping[str, str]) -> dict[str, str]:
    """The x-tif headers among ``headers``, as sent (the evidence of who signed a message, and how)."""
    found = {name: header(headers, lowercase) for _, name, lowercase in _header_names(spec)}
    return {name: value for name, value in found.items() if value is not None}


def sign_headers(
    spec: Spec, paasid: str, secret: str, *, now: float, nonce: str | None = None
) -> dict[str, str]:
    names = spec.transport["signature"]["headers"]
    timestamp = str(int(now))
    nonce = nonce or secrets.token_hex(16)
    return {
        names["paasid"]: paasid,
        names["timestamp"]: timestamp,
        names["nonce"]: nonce,
        names["signature"]: signature(spec, timestamp, secret, nonce),
    }


def verify(
    spec: Spec,
    headers: Mapping[str, str],
    *,
    secret_for: Callable[[str], str | None],
    now: float,
    nonce_seen: Callable[[str, str], bool],
) -> tuple[str, dict[str, str]] | None:
    """None when the headers verify, else (error code, placeholders) — checked in the order a gateway
    can afford: presence, account, clock, signature, and only then the nonce (so a forged request
    never burns a nonce). ``nonce_seen(paasid, nonce)`` records the nonce and says if it was seen."""
    sig = spec.transport["signature"]
    values = {}
    for key, name, lowercase in _header_names(spec):
        value = headers.get(lowercase) or header(headers, lowercase)
        if not value:
            return "E2001", {"header": name}
        values[key] = value
    secret = secret_for(values["paasid"])
    if secret is None:
        return "E2003", {"paasid": values["paasid"]}
    window = int(sig["timestamp_window_seconds"])
    if not values["timestamp"].isdigit() or abs(int(values["timestamp"]) - now) > window:
        return "E2004", {"window": str(window)}
    expected = signature(spec, values["timestamp"], secret, values["nonce"])
    # as the spec writes it, lowercase hex: a gateway that lowered it first would pass a HIS that a
    # strict gateway refuses (bytes: compare_digest refuses a str that is not ASCII)
    if not hmac.compare_digest(expected.encode(), values["signature"].encode()):
        return "E2002", {}
    if nonce_seen(values["paasid"], values["nonce"]):
        return "E2005", {}
    return None


def url(spec: Spec, base: str, txn: Transaction, style: str = "infno") -> str:
    """The address of a transaction: ``{base}/{infno}`` or ``{base}{service_path}``."""
    if style == "service" and not txn.service_path:
        raise ValueError(f"{txn.infno} has no service path")
    template = spec.transport["addressing"][style]["template"]
    return str(template.format(base=base.rstrip("/"), infno=txn.infno, service_path=txn.service_path))
