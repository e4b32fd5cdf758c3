"""Reliability (可靠性) cases against the national hub: regions it does not serve, an insured platform
that does not answer, and a settlement sent again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..catalogue import Case
from ..insured.client import Platform, Visit, admitted, ok, resent_changed
from ..plugin import Sut, case
from ..steps import MONEY, answered, fail, fault, refused, succeed

UNCONNECTED = "990000"  # an insured region no hub serves


def behind(sut: Sut, visit: Visit) -> str:
    """The yidi server hosting the visit's insured province behind the hub (the SUT itself when builtin)."""
    province = visit.insuplc_admdvs[:2]
    url = next(p["insured_url"] for p in sut.roster["provinces"] if p["admdvs"][:2] == province)
    return str(url).rsplit("/prov/", 1)[0]


@case("JT-REL-201")
def test_an_unconnected_insured_region_is_refused(
    sut: Sut, province: Callable[[str], Platform], joint_case: Case
) -> None:
    via_hub, code = province(joint_case.hospital), joint_case.hospital
    info = ok(via_hub.person_info(sut.card(joint_case.person), "02", code))
    message = {**via_hub.admission(via_hub.visit(info.output, code)), "insuplc_admdvs": UNCONNECTED}
    refused(lambda: via_hub.send(message), "E6007", "R-ROUTE-01")


@case("JT-REL-202")
def test_an_unreachable_insured_platform_is_answered_minus_one_and_may_be_retried(
    sut: Sut, province: Callable[[str], Platform], joint_case: Case
) -> None:
    via_hub, code = province(joint_case.hospital), joint_case.hospital
    info = ok(via_hub.person_info(sut.card(joint_case.person), "02", code))
    visit = via_hub.visit(info.output, code)
    message = via_hub.admission(visit)
    with fault(sut, f"insured-outage:{visit.insuplc_admdvs[:2]}0000/Y2401*1", at=behind(sut, visit)):
        reply = refused(lambda: via_hub.send(message), "E6006", "R-ROUTE-02")
    if reply.infcode != -1:
        fail(
            f"参保地无响应应答infcode=-1，实际{reply.infcode}",
            rule="R-ROUTE-02",
            on=reply,
            expected={"infcode": -1},
            actual={"infcode": reply.infcode, "err_msg": reply.err_msg},
        )
    goes_through_again(via_hub, message)


def goes_through_again(via_hub: Platform, message: dict[str, Any]) -> None:
    """The same message sent again once the insured side is back is done: a -1 is never the msgid's answer."""
    answered(via_hub.send(message), "参保地恢复后以同一msgid重发应成功", "R-ROUTE-02")


@case("JT-REL-205")
def test_an_insured_platforms_minus_one_is_relayed_and_not_kept(
    sut: Sut, province: Callable[[str], Platform], joint_case: Case
) -> None:
    via_hub, code = province(joint_case.hospital), joint_case.hospital
    info = ok(via_hub.person_info(sut.card(joint_case.person), "02", code))
    visit = via_hub.visit(info.output, code)
    message = via_hub.admission(visit)
    with fault(sut, f"insured-error:{visit.insuplc_admdvs[:2]}0000/Y2401*1", at=behind(sut, visit)):
        reply = via_hub.send(message)
    if reply.infcode != -1:
        fail(
            f"参保地应答-1时国家平台应原样转发infcode=-1，实际{reply.infcode}",
            rule="R-ROUTE-02",
            on=reply,
            expected={"infcode": -1},
            actual={"infcode": reply.infcode, "err_msg": reply.err_msg},
        )
    goes_through_again(via_hub, message)


@case("JT-REL-203")
def test_a_retried_settlement_is_answered_from_the_hubs_record(
    sut: Sut, province: Callable[[str], Platform], joint_case: Case
) -> None:
    via_hub = province(joint_case.hospital)
    visit = admitted(via_hub, sut.card(joint_case.person), joint_case.hospital)
    first = succeed(lambda: via_hub.settle(visit))
    outage = f"insured-outage:{visit.insuplc_admdvs[:2]}0000/Y2304"  # a retry forwarded again would fail
    with fault(sut, outage, at=behind(sut, visit)):
        retry = via_hub.send(first.request)
    if not retry.ok or retry.output != first.output:
        fail(
            "同一报文ID重发，国家平台应返回首次应答而不再转发参保地",
            rule="R-IDEM-01",
            on=first,
            expected={k: first.output["setlinfo"].get(k) for k in MONEY},
            actual={"infcode": retry.infcode, "err_msg": retry.err_msg}
            if not retry.ok
            else {k: retry.output["setlinfo"].get(k) for k in MONEY},
        )


@case("JT-REL-204")
def test_a_settlement_msgid_reused_with_a_later_row_changed_is_refused_by_the_hub(
    sut: Sut, province: Callable[[str], Platform], joint_case: Case
) -> None:
    via_hub = province(joint_case.hospital)
    visit = admitted(via_hub, sut.card(joint_case.person), joint_case.hospital)
    resent_changed(via_hub, succeed(lambda: via_hub.settle(visit)))
