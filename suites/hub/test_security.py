"""Gateway security (网关安全) cases against the national hub, yidi playing a treatment province."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ...actors.his import Reply
from ..catalogue import Case
from ..insured.client import Credentials, Platform, ok, refused_replayed, refused_unsigned
from ..plugin import Sut, case
from ..steps import answered, fail, refused


@case("JT-SEC-201")
def test_a_province_message_with_a_wrong_signature_is_refused(
    sut: Sut, province: Callable[[str], Platform], joint_case: Case
) -> None:
    via_hub, card = province(joint_case.hospital), sut.card(joint_case.person)
    info = ok(via_hub.person_info(card, "02", joint_case.hospital))
    refused_unsigned(via_hub, via_hub.admission(via_hub.visit(info.output, joint_case.hospital)))


@case("JT-SEC-202")
def test_a_platform_cannot_speak_for_another_province(
    sut: Sut, province: Callable[[str], Platform], joint_case: Case
) -> None:
    via_hub, code = province(joint_case.hospital), joint_case.hospital
    info = ok(via_hub.person_info(sut.card(joint_case.person), "02", code))
    own = via_hub.treatment["admdvs"][:2]
    other = next(p for p in sut.roster["provinces"] if p["admdvs"][:2] != own)["platform"]
    message = via_hub.admission(via_hub.visit(info.output, code))
    # the province's own envelope, signed with another platform's account
    borrowed = replace(via_hub, signer=Credentials.from_roster(other))
    gateway_refusal(refused(lambda: borrowed.send(message), "E2008|E2009", "R-SEC-03"))
    # another platform under its own code and account, claiming the province's region
    claims = replace(via_hub, treatment={**via_hub.treatment, "platform": other}, signer=borrowed.signer)
    posed = claims.admission(claims.visit(info.output, code))
    gateway_refusal(refused(lambda: claims.send(posed), "E2009|E2008", "R-SEC-03"))
    answered(via_hub.send(message), "以本平台账户重发同一msgid应成功（冒名报文不应留下记录）")


def gateway_refusal(reply: Reply) -> None:
    """A refusal at the gateway is -1: the message was not processed as business."""
    if reply.infcode != -1:
        fail(
            f"冒名报文应答infcode应为-1，实际{reply.infcode}",
            rule="R-SEC-03",
            on=reply,
            expected={"infcode": -1},
            actual={"infcode": reply.infcode},
        )


@case("JT-SEC-203")
def test_a_province_message_replayed_or_stale_is_refused(
    sut: Sut, province: Callable[[str], Platform], joint_case: Case
) -> None:
    refused_replayed(province(joint_case.hospital), sut.card(joint_case.person), joint_case.hospital)
