"""Routing and relaying (路由与转发) cases against the national hub: yidi plays the treatment province
before it and asks its own insured provinces behind it the same, to see the hub pass answers on unchanged."""

from __future__ import annotations

from collections.abc import Callable

from ...actors.his import Refused
from ..catalogue import Case
from ..insured.client import Platform, ok
from ..plugin import Sut, case
from ..steps import fail, refused, unexpected_refusal


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


# ── JT-ADM-203: every pair of provinces ────────────────────────────


def one_of_each_province(sut: Sut) -> dict[str, str]:
    """A person insured in each province (by the first two digits of insuplc_admdvs), card and insurance
    in order, the roster's crowd first: province → person key."""
    chosen: dict[str, str] = {}
    for entry in (*sut.roster.get("crowd", ()), *sut.roster["persons"]):
        person = sut.world.person(entry["key"])
        if person is None or person.card.status != "1" or person.psn_insu_stas != "1":
            continue
        chosen.setdefault(person.insuplc_admdvs[:2] + "0000", person.key)
    return chosen


@case("JT-ADM-203")
def test_the_hub_routes_every_pair_of_provinces(
    sut: Sut, province: Callable[[str], Platform], joint_case: Case
) -> None:
    people = one_of_each_province(sut)
    for area in sorted(people):  # each province in turn the treatment province
        code = next(
            h["fixmedins_code"]
            for p in sut.roster["provinces"]
            if p["admdvs"] == area
            for h in p["hospitals"]
        )
        via_hub = province(code)
        for home, key in sorted(people.items()):
            if home == area:
                continue
            person = sut.world.person(key)
            assert person is not None
            reply = via_hub.person_info(sut.card(key), "02", code)
            if not reply.ok:
                unexpected_refusal(
                    Refused(reply)
                )  # a person the world has, refused: suites/diagnosis.py says why
            got = {
                "psn_no": reply.output["baseinfo"]["psn_no"],
                "insuplc_admdvs": reply.output["insuinfo"][0]["insuplc_admdvs"],
            }
            want = {"psn_no": person.psn_no, "insuplc_admdvs": person.insuplc_admdvs}
            if got != want:
                fail(
                    f"{area}（就医地）查询{home}参保人员{key}：国家平台应路由至其参保地{home}并转发其应答",
                    rule="R-ROUTE-01",
                    on=reply,
                    expected=want,
                    actual=got,
                )
