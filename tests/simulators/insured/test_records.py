"""The insured node's checks on their own (simulators/insured/records.py): which filing lets a person be
settled directly where they are treated (E3002, E3003, E3004, emergencies deemed filed), and the card
checks (E3005, E3007)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from yidi.simulators.app import Simulation
from yidi.simulators.gateway import BusinessError
from yidi.simulators.insured.records import Insured
from yidi.world.topology import Person

DAY = date(2026, 11, 23)


def filing(
    sn: str, mdtrtarea: str, begn: str = "2026-01-01", end: str | None = None, status: str = "1"
) -> Any:
    return {
        "sn": sn,
        "fil_type": "1",
        "mdtrtarea": mdtrtarea,
        "begndate": begn,
        "enddate": end,
        "status": status,
    }


@pytest.fixture
def node(sim: Simulation) -> Insured:
    return sim.insured["510000"]


@pytest.fixture
def person(node: Insured) -> Person:
    return next(p for p in node.people.values() if p.card.status == "1")


def code(call: Any, *args: Any) -> str:
    with pytest.raises(BusinessError) as e:
        call(*args)
    return e.value.code


def test_care_in_the_own_province_needs_no_filing(node: Insured, person: Person) -> None:
    assert node.filing_for(person, {"filings": []}, "511000", DAY, "21") == {}


def test_a_valid_filing_for_the_place_allows_direct_settlement(node: Insured, person: Person) -> None:
    city, province = filing("F1", "500100"), filing("F2", "610000")
    doc = {"filings": [city, province]}
    assert node.filing_for(person, doc, "500100", DAY, "21") is city
    assert node.filing_for(person, doc, "610900", DAY, "21") is province  # a province covers its cities
    last_day = {"filings": [filing("F3", "500100", end="2026-11-23")]}
    assert node.filing_for(person, last_day, "500100", DAY, "21")["sn"] == "F3"  # the end date included


def test_a_filing_that_does_not_fit_says_why_E3002_E3003_E3004(node: Insured, person: Person) -> None:
    expired = {"filings": [filing("F1", "500100", end="2026-11-22")]}
    assert code(node.filing_for, person, expired, "500100", DAY, "21") == "E3003"
    not_yet = {"filings": [filing("F1", "500100", begn="2026-11-24")]}
    assert code(node.filing_for, person, not_yet, "500100", DAY, "21") == "E3003"
    elsewhere = {"filings": [filing("F1", "610100")]}
    assert code(node.filing_for, person, elsewhere, "500100", DAY, "21") == "E3004"
    revoked = {"filings": [filing("F1", "500100", status="3"), filing("F2", "500100", status="2")]}
    assert code(node.filing_for, person, revoked, "500100", DAY, "21") == "E3002"
    assert code(node.filing_for, person, {"filings": []}, "500100", DAY, "21") == "E3002"


def test_an_emergency_is_deemed_filed(node: Insured, person: Person) -> None:
    for med_type in ("13", "24"):  # 急诊, 急诊转住院
        assert node.filing_for(person, {"filings": []}, "500100", DAY, med_type) == {
            "sn": "",
            "fil_type": "6",
        }
    expired = {"filings": [filing("F1", "500100", end="2026-11-22")]}
    assert node.filing_for(person, expired, "500100", DAY, "13")["fil_type"] == "6"


def test_a_card_must_be_valid_and_its_serial_the_cards_E3005_E3007(node: Insured, person: Person) -> None:
    good, lost = {"card_status": "1"}, {"card_status": "2"}
    card = {"mdtrt_cert_type": "03", "mdtrt_cert_no": person.card.cardno, "card_sn": person.card.card_sn}
    node.check_card(person, card, good)
    assert code(node.check_card, person, {**card, "card_sn": "X" + person.card.card_sn}, good) == "E3007"
    assert code(node.check_card, person, {**card, "card_sn": ""}, good) == "E3007"
    assert code(node.check_card, person, card, lost) == "E3005"
    node.check_card(person, {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno}, lost)  # not the card
