"""The harness served on a shared network (issue #20, security): the admin credential, signatures as the
spec writes them, nonces across a restart, and bodies refused unread or past a cap. Real HTTP throughout,
against a running server (a thread, or ``yidi serve`` in a process of its own)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from yidi.actors import admin
from yidi.simulators.app import Options
from yidi.simulators.asgi import read
from yidi.specs import transport
from yidi.suites.insured.client import Credentials, Platform

from .conftest import Served, free_port, serving
from .test_durability import Process, processes  # noqa: F401 (the fixture)
from .test_gateway import post, sign_in_message, signed

ADMIN = [
    ("GET", "/admin/roster", None),
    ("GET", "/admin/health", None),
    ("GET", "/admin/clock", None),
    ("POST", "/admin/clock", {"advance_seconds": 86400}),
    ("GET", "/admin/faults", None),
    ("POST", "/admin/faults", {"faults": [], "mutants": ["accept-bad-signature"]}),
    ("POST", "/admin/flush", None),
    ("POST", "/admin/prepayment", {"insured": "510000", "treatment": "500000", "size": 1}),
]


@pytest.mark.parametrize("credential", [None, "Bearer wrong", "Basic x", "Bearer"])
def test_every_admin_endpoint_refuses_a_request_without_the_credential(
    served: Served, credential: str | None
) -> None:
    headers = {} if credential is None else {"authorization": credential}
    for method, path, body in ADMIN:
        r = httpx.request(method, f"{served.url}{path}", json=body, headers=headers)
        assert r.status_code == 401, (method, path, r.status_code)
        assert "secret" not in r.text and "admin credential" in r.json()["detail"]
        assert r.headers["www-authenticate"].startswith("Bearer")
    # nothing was done: no mutant on, the clock where it was, a bad signature still refused
    assert served.sim.faults.state()["mutants"] == []
    bad = post(
        served, "/gw/510000/9001", sign_in_message(served), signed(served, **{"x-tif-signature": "0" * 64})
    )
    assert bad.json()["err_msg"].startswith("[E2002]")


def test_the_credential_opens_admin_and_a_card_needs_none(served: Served) -> None:
    roster = httpx.get(f"{served.url}/admin/roster", headers=served.admin)
    assert roster.status_code == 200 and roster.json()["provinces"][0]["hospitals"][0]["secret"]
    assert httpx.get(f"{served.url}/cards/P01").status_code == 200  # what any card reader gives
    on = {"faults": [], "mutants": ["accept-bad-signature"]}
    assert httpx.post(f"{served.url}/admin/faults", json=on, headers=served.admin).status_code == 200
    assert served.sim.faults.state()["mutants"] == ["accept-bad-signature"]


def test_a_credential_given_is_the_one_asked_for(tmp_path: Path) -> None:
    with serving(Options(db=f"sqlite:///{tmp_path / 'state.db'}", admin_token="given-by-the-team")) as s:
        assert s.sim.admin_token == "given-by-the-team"
        opened = httpx.get(f"{s.url}/admin/health", headers={"authorization": "Bearer given-by-the-team"})
        assert opened.status_code == 200
    with serving(Options(db=f"sqlite:///{tmp_path / 'other.db'}")) as s:  # otherwise a new one each start
        assert len(s.sim.admin_token) >= 40 and s.sim.admin_token != "given-by-the-team"


def test_yidi_serve_prints_a_new_credential_to_the_operator(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in __import__("os").environ.items() if k != admin.ENV}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "yidi",
            "serve",
            "--port",
            str(port),
            "--db",
            f"sqlite:///{tmp_path / 's.db'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        token = None
        deadline = time.monotonic() + 60
        while token is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if "admin token →" in line:
                token = line.split("admin token →")[1].split()[0]
        assert token
        url = f"http://127.0.0.1:{port}/admin/roster"
        for _ in range(100):
            try:
                assert httpx.get(url, timeout=1).status_code == 401
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(url, headers=admin.headers(token)).json()["provinces"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("at", ["/gw/510000/9001", "/gw/500000/9001"])
def test_a_signature_in_uppercase_hex_is_refused(served: Served, at: str) -> None:
    code = "H51010000001" if "510000" in at else "H50000000001"
    headers = signed(served, code)
    headers["x-tif-signature"] = headers["x-tif-signature"].upper()
    r = post(served, at, sign_in_message(served, code), headers)
    assert r.json()["infcode"] == -1 and r.json()["err_msg"].startswith("[E2002]")
    headers = signed(served, code)  # the same, in lowercase as the spec writes it
    assert post(served, at, sign_in_message(served, code), headers).json()["infcode"] == 0


def test_headers_captured_before_a_restart_are_refused_after_it(
    tmp_path: Path,
    processes: list[Process],  # noqa: F811
) -> None:
    db = tmp_path / "state.db"
    server = Process(db)
    processes.append(server)
    his = server.his("H51010000001")
    captured = transport.sign_headers(his.spec, his.hospital.paasid, his.hospital.secret, now=time.time())
    assert his.send(his.message("9001", sign_in_input(his)), headers=captured).ok
    server.kill()
    restarted = Process(db)
    processes.append(restarted)
    again = restarted.his("H51010000001")  # a new message under the captured headers, within their window
    replay = again.send(again.message("9001", sign_in_input(again)), headers=captured)
    assert replay.infcode == -1 and replay.err_msg.startswith("[E2005]"), replay.err_msg
    fresh = again.send(again.message("9001", sign_in_input(again)))
    assert fresh.ok


def sign_in_input(his: Any) -> dict[str, Any]:
    return {"signIn": his.node("9001", "signIn", opter_no=his.opter)}


def raw(url: str, head: str, body: bytes = b"", *, wait: float = 10) -> tuple[bytes, float]:
    """Send a request's head (and the start of a body) on a socket, and read the answer, without sending
    the rest: what the server answers before it has a body it does not need."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=wait) as s:
        s.sendall(head.encode("latin-1") + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            part = s.recv(65536)
            if not part:
                break
            answer += part
    return answer, time.monotonic() - started


def request_head(path: str, headers: dict[str, str], length: int | None) -> str:
    lines = [f"POST {path} HTTP/1.1", "host: yidi", "content-type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += [f"content-length: {length}"] if length is not None else ["transfer-encoding: chunked"]
    return "\r\n".join(lines) + "\r\n\r\n"


def infcode_answer(answer: bytes) -> dict[str, Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    got: dict[str, Any] = orjson.loads(body)
    return got


def test_an_unsigned_body_is_refused_before_it_is_read(served: Served) -> None:
    # 100 MB announced, 1 KB sent: the answer comes on the headers alone
    head = request_head("/gw/510000/9001", {}, 100 * 1024 * 1024)
    answer, seconds = raw(served.url, head, b" " * 1024)
    assert infcode_answer(answer)["err_msg"].startswith("[E2001]") and seconds < 5


def test_a_signed_body_longer_than_the_cap_is_refused_unread(tmp_path: Path) -> None:
    with serving(Options(db=f"sqlite:///{tmp_path / 'state.db'}", max_body=64 * 1024)) as s:
        message = json.dumps(sign_in_message(s)).encode()
        # by its Content-Length: refused before a byte of it is read
        answer, seconds = raw(s.url, request_head("/gw/510000/9001", signed(s), 100 * 1024 * 1024), b"{")
        refused = infcode_answer(answer)
        assert (
            refused["infcode"] == -1
            and refused["err_msg"].startswith("[E2010]")
            and "65536" in refused["err_msg"]
        )
        assert seconds < 5
        # chunked, with no length announced: refused once the cap is passed
        chunk = b" " * 8192
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10))
        answer, _ = raw(s.url, request_head("/gw/510000/9001", signed(s), None), chunks)
        assert infcode_answer(answer)["err_msg"].startswith("[E2010]")
        # a message within the cap, in many parts, is answered as usual
        padded = message + b" " * 60000
        parts = [padded[i : i + 1000] for i in range(0, len(padded), 1000)]
        answer, _ = raw(
            s.url,
            request_head("/gw/510000/9001", signed(s), None),
            b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n",
        )
        assert infcode_answer(answer)["infcode"] == 0


def test_the_body_is_read_in_linear_time() -> None:
    """100,000 parts of 100 bytes (10 MB): joined once they take well under a second; added one to the
    next (body += part) they copy about 500 GB."""
    parts = [{"type": "http.request", "body": b"x" * 100, "more_body": True} for _ in range(100_000)]
    parts[-1]["more_body"] = False
    events = iter(parts)

    async def receive() -> dict[str, Any]:
        return next(events)

    started = time.monotonic()
    body = asyncio.run(read(receive, 20 * 1024 * 1024, None))  # type: ignore[arg-type]
    assert body is not None and len(body) == 10_000_000 and time.monotonic() - started < 3


def test_an_insured_province_takes_a_platform_at_its_word_only_for_itself(served: Served) -> None:
    """At the insured province's gateway, a message naming Chongqing's platform is refused when Sichuan's
    platform signed it (each speaks for itself), and answered when the hub did (it relays every platform)."""
    roster, card = served.roster, served.card("P01")  # insured in Sichuan, staying in Chongqing
    chongqing, sichuan = (
        next(p for p in roster["provinces"] if p["admdvs"] == a) for a in ("500000", "510000")
    )

    def platform(signer: dict[str, str]) -> Platform:
        def url(admdvs: str) -> str:
            return f"{served.url}/prov/{admdvs[:2]}0000"

        return Platform(
            served.sim.spec, chongqing, Credentials.from_roster(signer), url, [], served.sim.topology
        )

    posing = platform(sichuan["platform"]).person_info(card, "02", "H50000000001")
    assert posing.infcode == -1 and posing.err_msg.startswith("[E2008]"), posing.err_msg
    relayed = platform(roster["hub"]).person_info(card, "02", "H50000000001")
    assert relayed.ok, relayed.err_msg
