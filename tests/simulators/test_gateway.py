"""What the gateways refuse, and how: security, malformed messages, sign-in. Real HTTP throughout;
every refusal is an infcode answer that names the field or the rule, and changes nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from yidi.simulators.app import Simulation
from yidi.simulators.gateway import InvalidAnswer
from yidi.simulators.store import messages, signins, visits
from yidi.specs import examples, transport

from .conftest import Served
from .test_episodes import count


def post(served: Served, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return httpx.post(
        f"{served.url}{path}",
        content=content,
        headers={"content-type": "application/json", **(headers or {})},
    )


def signed(served: Served, code: str = "H51010000001", **override: str) -> dict[str, str]:
    h = served.hospital(code)
    return {**transport.sign_headers(served.sim.spec, h.paasid, h.secret, now=time.time()), **override}


def sign_in_message(served: Served, code: str = "H51010000001") -> dict[str, Any]:
    return examples.request(
        served.sim.spec,
        "9001",
        fixmedins_code=code,
        msgid=f"{code}{time.strftime('%Y%m%d%H%M%S')}{int(time.time() * 1e6) % 10000:04d}",
    )


def state(served: Served) -> tuple[int, int, int]:
    return count(served, messages), count(served, signins), count(served, visits)


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"x-tif-signature": ""}, "E2001"),
        ({"x-tif-signature": "0" * 64}, "E2002"),
        ({"x-tif-paasid": "nobody"}, "E2003"),
        ({"x-tif-timestamp": str(int(time.time()) - 3600)}, "E2004"),
    ],
)
def test_a_bad_signature_is_refused_and_changes_nothing(
    served: Served, headers: dict[str, str], error: str
) -> None:
    before = state(served)
    r = post(served, "/gw/510000/9001", sign_in_message(served), signed(served, **headers))
    assert r.status_code == 200 and r.json()["infcode"] == -1 and r.json()["err_msg"].startswith(f"[{error}]")
    assert state(served) == before


def test_a_replayed_nonce_is_refused(served: Served) -> None:
    headers = signed(served)
    assert post(served, "/gw/510000/9001", sign_in_message(served), headers).json()["infcode"] == 0
    before = state(served)
    again = post(served, "/gw/510000/9001", sign_in_message(served), headers).json()
    assert again["err_msg"].startswith("[E2005]") and state(served) == before


def test_a_hospital_cannot_use_another_hospitals_credentials(served: Served) -> None:
    message = sign_in_message(served, "H51010000002")
    r = post(served, "/gw/510000/9001", message, signed(served, "H51010000001")).json()
    assert r["err_msg"].startswith("[E2008]")


def test_unsigned_traffic_to_the_hub_is_refused(served: Served) -> None:
    message = examples.request(served.sim.spec, "Y1101")
    r = post(
        served,
        "/hub/Y1101",
        message,
        {"x-tif-paasid": "x", "x-tif-timestamp": "1", "x-tif-nonce": "n", "x-tif-signature": "s"},
    ).json()
    assert r["infcode"] == -1 and r["err_msg"].startswith("[E2003]")


def test_transactions_need_a_sign_in(served: Served) -> None:
    message = examples.request(
        served.sim.spec,
        "1101",
        sign_no="nosuchsignin",
        fixmedins_code="H51010000001",
        msgid=f"H51010000001{time.strftime('%Y%m%d%H%M%S')}0001",
    )
    r = post(served, "/gw/510000/1101", message, signed(served)).json()
    assert r["err_msg"].startswith("[E2006]")


def test_a_hospital_cannot_settle_another_hospitals_visit(served: Served) -> None:
    from .test_episodes import admitted

    owner, episode = admitted(served, "P12", "H51010000001")
    other = served.his("H51010000002")
    reply = other.call(
        "2303",
        {"data": owner.settlement_data(episode, "2303", use_account=True, mid=False)},
        insuplc_admdvs=episode.insuplc_admdvs,
        check=False,
    )
    assert reply.err_msg.startswith("[E2007]")


@pytest.mark.parametrize(
    ("body", "path", "error", "named"),
    [
        (b"{not json", "/gw/510000/9001", "E1007", ""),
        (b"[1, 2]", "/gw/510000/9001", "E1007", ""),
        ({"infno": "0000"}, "/gw/510000/0000", "E1008", "0000"),
    ],
)
def test_unusable_bodies_get_an_infcode_answer(
    served: Served, body: Any, path: str, error: str, named: str
) -> None:
    r = post(served, path, body, signed(served))
    assert r.status_code == 200
    answer = r.json()
    assert (
        answer["infcode"] == -1 and answer["err_msg"].startswith(f"[{error}]") and named in answer["err_msg"]
    )


def test_a_malformed_message_names_the_field_and_the_rule(served: Served) -> None:
    his = served.his("H51010000001")
    message = his.message("1101", {"data": {"mdtrt_cert_type": "09", "mdtrt_cert_no": "x"}})
    r = his.send(message)
    assert r.infcode == -1 and "input.data.mdtrt_cert_type" in r.err_msg and "代码表" in r.err_msg
    message = his.message("2301", {"feedetail": [{"feedetl_sn": "1"}]})
    r = his.send(message)
    assert r.infcode == -1 and r.err_msg.startswith("[E1001]") and "另有" in r.err_msg


def test_the_url_and_the_envelope_must_name_the_same_transaction(served: Served) -> None:
    message = sign_in_message(served)
    r = post(served, "/gw/510000/1101", message, signed(served)).json()
    assert r["err_msg"].startswith("[E1012]")


def test_the_named_service_paths_work_too(served: Served) -> None:
    r = post(
        served, "/gw/510000/fsi/api/signInSignOutService/signIn", sign_in_message(served), signed(served)
    )
    assert r.json()["infcode"] == 0 and r.json()["output"]["signinoutb"]["sign_no"]


def test_every_answer_is_valid_for_the_spec(served: Served) -> None:
    from yidi.specs.validate import validate

    from .test_episodes import settled

    _, episode = settled(served, "P01", "H50000000001")
    for reply in episode.replies:
        assert validate(served.sim.wire, reply.body, infno=reply.infno, response=True).issues == [], (
            reply.infno
        )


def test_a_crashing_handler_answers_minus_1_not_500_and_is_logged(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    async def crash(ctx: Any) -> None:
        raise RuntimeError("planted")

    served.sim.treatment["510000"].handlers["9001"] = crash
    r = post(served, "/gw/510000/9001", sign_in_message(served), signed(served))
    assert r.status_code == 200 and r.json()["infcode"] == -1 and r.json()["err_msg"].startswith("[E6009]")
    assert any(
        "unexpected error" in rec.getMessage() for rec in caplog.records
    )  # what no_simulator_bugs sees
    caplog.clear()


def test_an_address_no_node_serves_is_404_and_the_rest_still_answers(served: Served) -> None:
    for path in ("/gw/990000/9001", "/prov/990000/Y1101"):
        r = post(served, path, sign_in_message(served), signed(served))
        assert r.status_code == 404 and path in r.json()["detail"]
    for method in ("GET", "PUT", "DELETE"):  # messages are POSTed: the path exists, the method does not
        for path in ("/gw/510000/9001", "/hub/Y1101", "/prov/510000/Y1101"):
            r = httpx.request(method, f"{served.url}{path}")
            assert r.status_code == 405 and r.headers["allow"] == "POST", (method, path)
    assert httpx.get(f"{served.url}/gw/990000/9001").status_code == 404
    assert httpx.get(f"{served.url}/admin/health", headers=served.admin).json()["status"] == "ok"


def test_the_self_check_stops_a_wrong_answer_unless_the_simulators_play_a_system_under_test(
    sim: Simulation,
) -> None:
    # yidi's own tests keep the check (a wrong answer is a logged bug, answered -1); where the simulators
    # play the system under test (yidi certify), a wrong answer goes out as a real platform's would
    node = sim.treatment["510000"]
    wrong = {"signinoutb": {"sign_time": "2026/11/23 09:00:00", "sign_no": "x"}}  # a datetime out of format
    assert sim.faults.checked
    with pytest.raises(InvalidAnswer, match="sign_time"):
        node.respond("9001", 0, output=wrong)
    sim.faults.checked = False
    try:
        assert (
            node.respond("9001", 0, output=wrong)["output"]["signinoutb"]["sign_time"]
            == "2026/11/23 09:00:00"
        )
    finally:
        sim.faults.checked = True
