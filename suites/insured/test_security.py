"""Gateway security (网关安全) cases against an insured-province platform, yidi relaying as the hub."""

from __future__ import annotations

from collections.abc import Callable

from ..catalogue import Case
from ..plugin import Sut, case
from .client import Platform, ok, refused_replayed, refused_unsigned


@case("JT-SEC-101")
def test_a_hub_message_with_a_wrong_signature_is_refused_and_changes_nothing(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    relay, card = hub(joint_case.hospital), sut.card(joint_case.person)
    info = ok(relay.person_info(card, "02", joint_case.hospital))
    refused_unsigned(relay, relay.admission(relay.visit(info.output, joint_case.hospital)))


@case("JT-SEC-102")
def test_a_hub_message_replayed_or_stale_is_refused(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    refused_replayed(hub(joint_case.hospital), sut.card(joint_case.person), joint_case.hospital)
