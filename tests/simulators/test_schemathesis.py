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


def _st(served: Served, tmp_path: Any, node: str, *extra: str) -> Any:
    """Schemathesis' own CLI against the served simulators, as the README shows: the node's export, the
    shipped hooks signing each request (credentials from a roster file)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    schema = tmp_path / "node.json"
    exported = runner_invoke(["spec", "openapi", "--node", node, "--server", served.url, "-o", str(schema)])
    assert exported.exit_code == 0, exported.output
    server = json.loads(schema.read_text(encoding="utf-8"))["servers"][0]["url"]
    assert server == f"{served.url}/{node}"
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps(served.roster), encoding="utf-8")
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "yidi.suites.schemathesis_hooks", "YIDI_ROSTER": str(roster)}
    st = Path(sys.executable).parent / "st"
    checks = "not_a_server_error,status_code_conformance,content_type_conformance"
    checks += ",response_schema_conformance,no_internal_error"
    command = [str(st), "run", str(schema), "--url", server, "-c", checks, "--phases", "fuzzing", *extra]
    return subprocess.run(  # in tmp_path: st keeps its cache (.schemathesis/) in the working directory
        command, env=env, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path
    )


def runner_invoke(args: list[str]) -> Any:
    from typer.testing import CliRunner

    from yidi.cli import app

    return CliRunner().invoke(app, args)


def test_schemathesis_cli_with_the_shipped_hooks_passes_and_catches_an_internal_error(
    served: Served, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    passed = _st(served, tmp_path, "gw/510000", "-n", "2", "--include-path-regex", "^/(1101|5203|2301)$")
    assert passed.returncode == 0, passed.stdout[-3000:]

    async def crash(ctx: Any) -> None:
        raise RuntimeError("planted")

    served.sim.treatment["510000"].handlers["1101"] = crash  # reached only by a signed, valid message
    failed = _st(served, tmp_path, "gw/510000", "-n", "5", "--include-path-regex", "^/1101$")
    assert failed.returncode == 1 and "internal error answered: [E6009]" in failed.stdout, failed.stdout[
        -3000:
    ]
    caplog.clear()  # the planted crash is logged, as it should be
