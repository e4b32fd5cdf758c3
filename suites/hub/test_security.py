"""Gateway security (网关安全) cases against the national hub, yidi playing a treatment province."""

from __future__ import annotations

from collections.abc import Callable

from ..catalogue import Case
from ..insured.client import Platform, ok, refused_replayed, refused_unsigned
from ..plugin import Sut, case


@case("JT-SEC-201")
def test_a_province_message_with_a_wrong_signature_is_refused(
    sut: Sut, province: Callable[[str], Platform], joint_case: Case
) -> None:
    via_hub, card = province(joint_case.hospital), sut.card(joint_case.person)
    info = ok(via_hub.person_info(card, "02", joint_case.hospital))
    refused_unsigned(via_hub, via_hub.admission(via_hub.visit(info.output, joint_case.hospital)))


@case("JT-SEC-202")
def test_a_province_message_replayed_or_stale_is_refused(
    sut: Sut, province: Callable[[str], Platform], joint_case: Case
) -> None:
    refused_replayed(province(joint_case.hospital), sut.card(joint_case.person), joint_case.hospital)
