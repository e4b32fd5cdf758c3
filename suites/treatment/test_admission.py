"""Admission (入院) and filing (备案) cases against a treatment-province platform."""

from __future__ import annotations

from yidi.suites.plugin import Sut, case
from yidi.suites.steps import episode_to_discharge, refused


@case("JT-ADM-002")
def test_not_filed_is_refused(sut: Sut) -> None:
    his, episode = episode_to_discharge(sut, "P05", "H50000000001")
    refused(lambda: his.presettle(episode), "E3002", "R-FILE-01")


@case("JT-ADM-003")
def test_filing_expired_yesterday_is_refused(sut: Sut) -> None:
    his, episode = episode_to_discharge(sut, "P47", "H11000000001", cert_type="02")
    refused(lambda: his.presettle(episode), "E3003", "R-FILE-02")


@case("JT-ADM-004")
def test_filing_for_another_place_is_refused(sut: Sut) -> None:
    his, episode = episode_to_discharge(sut, "P24", "H51010000001")
    refused(lambda: his.presettle(episode), "E3004", "R-FILE-03")


@case("JT-ADM-006")
def test_a_wrong_card_sn_is_refused(sut: Sut) -> None:
    his = sut.his("H50000000001")
    card = {**sut.card("P01"), "card_sn": "0" * 32}
    refused(lambda: his.person_info(card, "03"), "E3007", "R-CARD-01")
