"""Admission (入院) and filing (备案) cases against a treatment-province platform."""

from __future__ import annotations

import pytest

from yidi.suites.catalogue import Case
from yidi.suites.plugin import Sut, case
from yidi.suites.steps import episode_to_discharge, refused


@pytest.mark.parametrize(
    ("cert_type", "code"),
    [
        pytest.param("03", "E3002", marks=case("JT-ADM-002"), id="JT-ADM-002-not-filed"),
        pytest.param("02", "E3003", marks=case("JT-ADM-003"), id="JT-ADM-003-expired-yesterday"),
        pytest.param("03", "E3004", marks=case("JT-ADM-004"), id="JT-ADM-004-another-place"),
    ],
)
def test_a_filing_that_does_not_cover_the_visit_is_refused(
    sut: Sut, joint_case: Case, cert_type: str, code: str
) -> None:
    his, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital, cert_type=cert_type)
    refused(lambda: his.presettle(episode), code, joint_case.rules[0])


@case("JT-ADM-006")
def test_a_wrong_card_sn_is_refused(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    card = {**sut.card(joint_case.person), "card_sn": "0" * 32}
    refused(lambda: his.person_info(card, "03"), "E3007", joint_case.rules[0])
