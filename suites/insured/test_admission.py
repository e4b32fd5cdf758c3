"""Admission (入院) and filing (备案) cases against an insured-province platform, yidi relaying as the hub."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import accepted, clock, refused
from .client import Platform, admitted, ok


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("E3002", marks=case("JT-ADM-101"), id="JT-ADM-101-not-filed"),
        pytest.param("E3003", marks=case("JT-ADM-102"), id="JT-ADM-102-expired-yesterday"),
        pytest.param("E3004", marks=case("JT-ADM-103"), id="JT-ADM-103-another-city"),
    ],
)
def test_a_filing_that_does_not_cover_the_stay_is_refused(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case, code: str
) -> None:
    relay = hub(joint_case.hospital)
    visit = admitted(relay, sut.card(joint_case.person), joint_case.hospital)  # admitted: filing may follow
    refused(lambda: relay.presettle(visit), code, joint_case.rules[0])


@pytest.mark.parametrize(
    ("card_sn", "code"),
    [
        pytest.param(None, "E3005", marks=case("JT-ADM-104"), id="JT-ADM-104-card-lost"),
        pytest.param("0" * 32, "E3007", marks=case("JT-ADM-105"), id="JT-ADM-105-wrong-card-sn"),
    ],
)
def test_a_card_that_may_not_be_used_is_refused(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case, card_sn: str | None, code: str
) -> None:
    card = sut.card(joint_case.person)
    if card_sn is not None:
        card["card_sn"] = card_sn
    relay = hub(joint_case.hospital)
    refused(lambda: relay.person_info(card, "03", joint_case.hospital), code, joint_case.rules[0])


@case("JT-ADM-106")
def test_a_filing_is_valid_on_its_first_day(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    person, place = sut.world.person(joint_case.person), sut.world.hospital(joint_case.hospital)
    assert person is not None and place is not None
    filing = next(f for f in person.filings if f.covers(place.admdvs, f.begndate))
    why = f"备案{filing.sn}自{filing.begndate}起有效，开始日当天应可直接结算"
    with clock(sut) as move:
        move(f"{filing.begndate}T10:00:00")
        relay = hub(joint_case.hospital)
        visit = admitted(relay, sut.card(joint_case.person), joint_case.hospital)
        accepted(lambda: ok(relay.presettle(visit)), "R-FILE-02", why)
        accepted(lambda: ok(relay.settle(visit)), "R-FILE-02", why)
        ok(relay.cancel(visit))  # the year as it was
