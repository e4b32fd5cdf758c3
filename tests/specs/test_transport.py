from __future__ import annotations

import pytest

from yidi.specs import transport
from yidi.specs.model import Spec

SECRETS = {"paas-h1": "s3cret"}
NOW = 1_700_000_000.0


def test_the_reference_test_vector(spec: Spec) -> None:
    vector = spec.transport["signature"]["test_vector"]
    assert (
        transport.signature(spec, vector["timestamp"], vector["secret"], vector["nonce"])
        == vector["signature"]
    )
    # and as nhsa-interface.md §2.2 prints it, so the spec file cannot drift from the reference
    assert transport.signature(spec, "1700000000", "S", "N") == (
        "392f46bcd28a57c9c59c3d0ae30d6ba30ac756a4e05f35a051319585cae95e39"
    )


def _verify(spec: Spec, headers: dict[str, str], now: float = NOW, seen: set[tuple[str, str]] | None = None):
    seen = set() if seen is None else seen

    def nonce_seen(paasid: str, nonce: str) -> bool:
        key = (paasid, nonce)
        was = key in seen
        seen.add(key)
        return was

    return transport.verify(spec, headers, secret_for=SECRETS.get, now=now, nonce_seen=nonce_seen)


def test_signed_headers_verify_once(spec: Spec) -> None:
    headers = transport.sign_headers(spec, "paas-h1", "s3cret", now=NOW)
    seen: set[tuple[str, str]] = set()
    assert _verify(spec, headers, seen=seen) is None
    assert _verify(spec, headers, seen=seen) == ("E2005", {})  # replayed nonce


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"x-tif-signature": None}, "E2001"),
        ({"x-tif-paasid": "paas-unknown"}, "E2003"),
        ({"x-tif-timestamp": str(int(NOW) - 301)}, "E2004"),
        ({"x-tif-timestamp": "yesterday"}, "E2004"),
        ({"x-tif-signature": "0" * 64}, "E2002"),
    ],
)
def test_each_gateway_refusal(spec: Spec, change: dict[str, str | None], error: str) -> None:
    headers = {**transport.sign_headers(spec, "paas-h1", "s3cret", now=NOW), **change}
    result = _verify(spec, {k: v for k, v in headers.items() if v is not None})
    assert result is not None and result[0] == error


def test_a_forged_request_does_not_burn_the_nonce(spec: Spec) -> None:
    good = transport.sign_headers(spec, "paas-h1", "s3cret", now=NOW, nonce="n-1")
    seen: set[tuple[str, str]] = set()
    assert _verify(spec, {**good, "x-tif-signature": "f" * 64}, seen=seen) == ("E2002", {})
    assert _verify(spec, good, seen=seen) is None


def test_header_names_are_case_insensitive(spec: Spec) -> None:
    headers = {k.upper(): v for k, v in transport.sign_headers(spec, "paas-h1", "s3cret", now=NOW).items()}
    assert _verify(spec, headers) is None


def test_both_addressing_styles(spec: Spec) -> None:
    txn = spec.transaction("2304")
    assert transport.url(spec, "http://gw/hsa/hgs/", txn) == "http://gw/hsa/hgs/2304"
    assert transport.url(spec, "http://gw", txn, "service") == "http://gw/fsi/api/hospSettService/settV2"
    with pytest.raises(ValueError, match="3260"):
        transport.url(spec, "http://gw", spec.transaction("3260"), "service")
