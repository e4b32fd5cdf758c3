"""Gateway security (网关安全) cases against a treatment-province platform.

Every refusal comes with the infcode the spec's error table gives it (-1 at the gateway, -2 for a business
refusal) and leaves nothing behind: the same message, sent properly afterwards, succeeds under its msgid.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from ...actors.his import His, LostAnswer, Reply
from ...specs import transport
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import answered, episode_to_discharge, fail, refused, succeed


def signed(sut: Sut, hospital: str, *, now: float | None = None, **override: str | None) -> dict[str, str]:
    """The x-tif headers of a hospital's account; ``override`` sets a header by its key (paasid,
    timestamp, nonce, signature), or drops it with None."""
    account = sut.hospital(hospital)
    headers = transport.sign_headers(
        sut.spec, account.paasid, account.secret, now=time.time() if now is None else now
    )
    names = sut.spec.transport["signature"]["headers"]
    for key, value in override.items():
        headers.pop(names[key])
        if value is not None:
            headers[names[key]] = value
    return headers


def refused_by_gateway(sut: Sut, step: Callable[[], Any], code: str, rule: str) -> Reply:
    """Refused with ``code`` and the infcode the spec's error table gives it."""
    reply = refused(step, code, rule)
    infcode = sut.spec.errors[code].infcode
    if reply.infcode != infcode:
        fail(
            f"拒绝（{code}）应答infcode应为{infcode}，实际{reply.infcode}",
            rule=rule,
            on=reply,
            expected={"infcode": infcode},
            actual={"infcode": reply.infcode, "err_msg": reply.err_msg},
        )
    return reply


def resent_succeeds(his: His, message: dict[str, Any]) -> Reply:
    """The refused message, sent again properly under the same msgid, succeeds: the refusal left no trace."""
    return answered(his.send(message), "被拒后以正确签名重发同一msgid应成功（被拒报文不应留下记录）")


def neighbour(sut: Sut, hospital: str) -> str:
    """Another hospital behind the same gateway (the same treatment province)."""
    gateway = sut.hospital(hospital).gateway
    return next(
        str(h["fixmedins_code"])
        for p in sut.roster["provinces"]
        for h in p["hospitals"]
        if h["gateway"] == gateway and h["fixmedins_code"] != hospital
    )


def sign_in_message(his: His) -> dict[str, Any]:
    return his.message("9001", {"signIn": his.node("9001", "signIn", opter_no=his.opter)})


def card_read_message(his: His, card: dict[str, Any]) -> dict[str, Any]:
    """【1101】 by social security card, as the HIS builds it (not sent)."""
    data = {"mdtrt_cert_type": "03", "mdtrt_cert_no": card["cardno"], "card_sn": card["card_sn"]}
    return his.message("1101", {"data": data})


@case("JT-SEC-001")
def test_a_request_without_signature_headers_is_refused(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    message = sign_in_message(his)
    unsigned = signed(sut, joint_case.hospital, signature=None)
    refused_by_gateway(sut, lambda: his.send(message, headers=unsigned), "E2001", "R-SEC-01")
    refused_by_gateway(sut, lambda: his.send(message, headers={}), "E2001", "R-SEC-01")
    resent_succeeds(his, message)


@case("JT-SEC-002")
def test_a_wrong_signature_is_refused_and_changes_nothing(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    message = sign_in_message(his)
    forged = signed(sut, joint_case.hospital, signature="0" * 64)
    refused_by_gateway(sut, lambda: his.send(message, headers=forged), "E2002", "R-SEC-02")
    resent_succeeds(his, message)


@case("JT-SEC-003")
def test_an_unknown_paasid_is_refused(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    message = sign_in_message(his)
    stranger = transport.sign_headers(sut.spec, "his-not-registered", "no-secret", now=time.time())
    refused_by_gateway(sut, lambda: his.send(message, headers=stranger), "E2003", "R-SEC-03")
    resent_succeeds(his, message)


@case("JT-SEC-004")
def test_a_hospital_cannot_send_under_another_hospitals_account(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    message = card_read_message(his, sut.card(joint_case.person))
    borrowed = signed(sut, neighbour(sut, joint_case.hospital))  # a valid signature, of another's paasid
    refused_by_gateway(sut, lambda: his.send(message, headers=borrowed), "E2008", "R-SEC-03")
    resent_succeeds(his, message)


@case("JT-SEC-005")
def test_a_timestamp_outside_the_window_is_refused(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    message = sign_in_message(his)
    window = int(sut.spec.transport["signature"]["timestamp_window_seconds"])
    for offset in (-window - 120, window + 120):  # signed correctly, but too old / from the future
        stale = signed(sut, joint_case.hospital, now=time.time() + offset)
        refused_by_gateway(sut, partial(his.send, message, headers=stale), "E2004", "R-SEC-04")
    resent_succeeds(his, message)


@case("JT-SEC-006")
def test_a_replayed_nonce_is_refused(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    captured = signed(sut, joint_case.hospital)
    answered(his.send(sign_in_message(his), headers=captured), "正确签名的签到应成功")
    replay = sign_in_message(his)  # another message under the captured headers (same nonce)
    refused_by_gateway(sut, lambda: his.send(replay, headers=captured), "E2005", "R-SEC-05")
    resent_succeeds(his, replay)


@case("JT-SEC-007")
def test_a_hospital_cannot_settle_another_hospitals_visit(sut: Sut, joint_case: Case) -> None:
    owner, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital)
    other = sut.his(neighbour(sut, joint_case.hospital))
    refused_by_gateway(sut, lambda: other.presettle(episode), "E2007", "R-SEC-07")
    refused_by_gateway(sut, lambda: other.settle(episode, reverse_lost=False), "E2007", "R-SEC-07")
    succeed(lambda: owner.presettle(episode))  # the visit is as it was: its own hospital settles it
    succeed(lambda: owner.settle(episode))


@case("JT-SEC-008")
def test_a_message_before_sign_in_is_refused(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    his.sign_no = ""  # a HIS that has not signed in (9001) today
    unsigned_in = card_read_message(his, sut.card(joint_case.person))
    refused_by_gateway(sut, lambda: his.send(unsigned_in), "E2006", "R-SEC-06")
    his.sign_in()
    resent_succeeds(his, {**unsigned_in, "sign_no": his.sign_no})


@case("JT-SEC-009")
def test_a_sign_no_is_refused_after_sign_out(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    sign_out = {"signOut": his.node("9002", "signOut", sign_no=his.sign_no, opter_no=his.opter)}
    succeed(lambda: his.call("9002", sign_out))
    after = card_read_message(his, sut.card(joint_case.person))  # still carries the old sign_no
    refused_by_gateway(sut, lambda: his.send(after), "E2006", "R-SEC-06")
    his.sign_in()
    resent_succeeds(his, {**after, "sign_no": his.sign_no})


@case("JT-SEC-010")
def test_a_message_nested_too_deep_is_refused_in_an_ordinary_answer(sut: Sut, joint_case: Case) -> None:
    his, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital)
    succeed(lambda: his.presettle(episode))
    data: dict[str, Any] = his.settlement_data(episode, "2304", use_account=True, mid=False)
    deep: Any = "x"
    for _ in range(300):  # deeper than a platform records (orjson writes 255 levels)
        deep = {"a": deep}
    data["exp_content"] = deep
    message = his.message("2304", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs)
    try:
        refused_by_gateway(sut, lambda: his.send(message), "E1007", "R-ENV-01")
    except LostAnswer as e:  # an answer other than HTTP 200 with a body is no answer to the HIS
        fail(
            f"嵌套过深的报文应以HTTP 200应答E1007，实际{e.args[-1]}",
            rule="R-ENV-01",
            infno="2304",
            msgid=str(message["msgid"]),
            expected={"HTTP": 200, "err_msg": "[E1007]…"},
            actual=str(e.args[-1]),
        )
    succeed(lambda: his.settle(episode))  # nothing of the refused one was booked: the stay settles
