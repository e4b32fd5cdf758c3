"""Schemathesis against a running simulator with yidi's own OpenAPI export: no 5xx, no answer the spec
refuses. Generated bodies get a real signature, and (half of the time) a valid sign-in and a msgid of
the right sender, so they reach the handlers and not only the gateway's checks.

Checks left out, and why: negative_data_rejection / positive_data_acceptance / ignored_auth expect HTTP
4xx for refused data or auth, while the platform answers every message with HTTP 200 and an infcode
(−1/−2), as real deployments do.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from yidi.specs import envelope, transport
from yidi.specs.openapi import document

from .conftest import Served


def no_internal_error(ctx: Any, response: Any, case: Any) -> None:
    """An E6009 is the gateway's last line catching a handler that broke: a crash, whatever the status."""
    body = (
        response.json()
        if response.headers.get("content-type", [""])[0].startswith("application/json")
        else {}
    )
    if str(body.get("err_msg") or "").startswith("[E6009]"):
        raise AssertionError(f"internal error answered: {body['err_msg']}")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    no_internal_error,
]
EXAMPLES = int(os.environ.get("YIDI_SCHEMATHESIS_EXAMPLES", "6"))


def _route(served: Served, infno: str) -> tuple[str, Any]:
    """Where an operation is served and which account signs it."""
    txn = served.sim.spec.transaction(infno)
    topology = served.sim.topology
    if txn.sender == "his":
        return f"{served.url}/gw/510000", topology.provinces["510000"].hospitals["H51010000001"].account
    if txn.sender == "agency":
        return f"{served.url}/prov/510000", topology.agency
    return f"{served.url}/hub", topology.provinces["500000"].platform


def test_no_5xx_and_no_answer_the_spec_refuses(served: Served) -> None:
    spec = served.sim.spec
    sign_no = served.his("H51010000001").sign_no
    ids = {code: envelope.MsgIds(code) for code in ("H51010000001", "A00000000000", "P50000000000")}
    operations = [r.ok() for r in schemathesis.openapi.from_dict(document(spec)).get_all_operations()]
    failures: list[str] = []
    answered: Counter[str] = Counter()

    def explore(operation: Any) -> None:
        infno = operation.path.strip("/")
        base, account = _route(served, infno)

        @settings(
            max_examples=EXAMPLES,
            suppress_health_check=list(HealthCheck),
            deadline=None,
            database=None,
            derandomize=True,
        )
        @given(case=operation.as_strategy(), reachable=st.booleans())
        def run(case: Any, reachable: bool) -> None:
            if reachable and isinstance(case.body, dict):
                case.body.update(
                    fixmedins_code=account.code,
                    msgid=ids[account.code](served.sim.clock.now()),
                    sign_no=sign_no,
                    infno=infno,
                )
            headers = transport.sign_headers(spec, account.paasid, account.secret, now=time.time())
            response = case.call(base_url=base, headers=headers)
            answered[_where(response)] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except BaseExceptionGroup as e:  # the checks that failed (a FailureGroup): record, keep exploring
                failures.append(f"{infno}: {str(e)[:300]} ← {case.body!r:.600}")

        run()

    for operation in operations:
        explore(operation)
    assert failures == [], (Counter(f.partition(":")[0] for f in failures), failures[:3])
    total = sum(answered.values())
    assert total >= len(operations) * EXAMPLES // 2
    # generated messages got past the gateway (signature, shape) into the handlers' business checks
    assert answered["business"] >= total // 20, answered


def _where(response: Any) -> str:
    """Which layer answered: the gateway (E1xxx shape, E2xxx security) or a handler (success, E3–E6)."""
    if response.status_code != 200:
        return f"http {response.status_code}"
    err = str(response.json().get("err_msg") or "")
    return "gateway" if err.startswith(("[E1", "[E2")) else "business"


@pytest.mark.parametrize("body", [b"", b"null", b"\xff\xfe", b'{"infno": 2304}', b"{" * 10000])
def test_hostile_bodies_get_an_infcode_answer(served: Served, body: bytes) -> None:
    import httpx

    h = served.hospital("H51010000001")
    headers = transport.sign_headers(served.sim.spec, h.paasid, h.secret, now=time.time())
    r = httpx.post(f"{served.url}/gw/510000/2304", content=body, headers=headers)
    assert r.status_code == 200 and r.json()["infcode"] == -1 and r.json()["err_msg"]
