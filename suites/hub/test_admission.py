"""Routing and relaying (路由与转发) cases against the national hub: yidi plays the treatment province
before it and asks its own insured provinces behind it the same, to see the hub pass answers on unchanged."""

from __future__ import annotations

from collections.abc import Callable

from ..catalogue import Case
from ..insured.client import Platform, ok
from ..plugin import Sut, case
from ..steps import fail, refused


@case("JT-ADM-201")
def test_the_hub_routes_to_the_insured_province_and_relays_its_answers(
    sut: Sut, province: Callable[[str], Platform], insured: Callable[[str], Platform], joint_case: Case
) -> None:
    via_hub, card, code = province(joint_case.hospital), sut.card(joint_case.person), joint_case.hospital
    relayed = ok(via_hub.person_info(card, "03", code))
    straight = ok(insured(code).person_info(card, "03", code))
    if relayed.output != straight.output:
        fail(
            "国家平台应原样转发参保地的应答",
            rule="R-ROUTE-01",
            on=relayed,
            expected=straight.output,
            actual=relayed.output,
        )
    visit = via_hub.visit(relayed.output, code)
    area = visit.hospital["admdvs"]
    filing = next(
        f["sn"]
        for f in sut.person(joint_case.person)["filings"]
        if f["status"] == "1" and f["mdtrtarea"] in (area, area[:2] + "0000")
    )
    reply = via_hub.send(via_hub.admission(visit))
    answered = {"infcode": reply.infcode, "err_msg": reply.err_msg}
    if reply.ok:
        answered = {"infcode": 0, "trt_dcla_detl_sn": reply.output["result"].get("trt_dcla_detl_sn")}
    if answered != {"infcode": 0, "trt_dcla_detl_sn": filing}:
        fail(
            f"应路由至参保地{visit.insuplc_admdvs}并转发其应答",
            rule="R-ROUTE-01",
            on=reply,
            expected={"infcode": 0, "trt_dcla_detl_sn": filing},
            actual=answered,
        )


@case("JT-ADM-202")
def test_the_hub_relays_a_refusal_unchanged(
    sut: Sut, province: Callable[[str], Platform], insured: Callable[[str], Platform], joint_case: Case
) -> None:
    card, code = sut.card(joint_case.person), joint_case.hospital
    relayed = province(code).person_info(card, "03", code)
    straight = insured(code).person_info(card, "03", code)
    want = {"infcode": straight.infcode, "err_msg": straight.err_msg}
    got = {"infcode": relayed.infcode, "err_msg": relayed.err_msg}
    if got != want:
        fail(
            "国家平台应原样转发参保地的拒绝",
            rule="R-ROUTE-01",
            on=relayed,
            expected=want,
            actual=got,
        )
    refused(lambda: relayed, "E3005", "R-CARD-02")
