"""Steps the cases share, in the words of a joint test: read the card, admit, upload, discharge, settle.

A refusal that was expected is checked by its error code; one that was not fails the case naming the
message and what the SUT answered, so a verdict always says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from yidi.simulators.his import Episode, His, Refused, Reply, credential

from .plugin import Sut


def episode_to_discharge(
    sut: Sut, person: str, hospital: str, *, cert_type: str = "03"
) -> tuple[His, Episode]:
    """1101 → 2401 → 2301 → 2402, every step expected to succeed."""
    his, card = sut.his(hospital), sut.card(person)
    try:
        info = his.person_info(card, cert_type)
        episode = Episode(info.output, str(info.output["insuinfo"][0]["insuplc_admdvs"]), replies=[info])
        his.admit(episode, cert=credential(card, cert_type), card_sn=card.get("card_sn"))
        his.upload_fees(episode, sut.items(hospital))
        his.discharge(episode)
    except Refused as e:
        pytest.fail(
            f"【{e.reply.infno}】{e.reply.msgid} 应成功，实际应答 infcode={e.reply.infcode} {e.reply.err_msg}"
        )
    return his, episode


def settled(sut: Sut, person: str, hospital: str) -> tuple[His, Episode]:
    his, episode = episode_to_discharge(sut, person, hospital)
    succeed(lambda: his.presettle(episode))
    succeed(lambda: his.settle(episode))
    return his, episode


def succeed(step: Callable[[], Reply]) -> Reply:
    try:
        return step()
    except Refused as e:
        pytest.fail(
            f"【{e.reply.infno}】{e.reply.msgid} 应成功，实际应答 infcode={e.reply.infcode} {e.reply.err_msg}"
        )


def refused(step: Callable[[], Any], code: str, rule: str) -> Reply:
    """The step must be refused with ``code`` (rule ``rule``)."""
    try:
        reply = step()
    except Refused as e:
        reply = e.reply
    if not isinstance(reply, Reply):
        pytest.fail(f"应拒绝（{code}，{rule}），实际成功")
    if reply.ok:
        pytest.fail(f"【{reply.infno}】{reply.msgid} 应拒绝（{code}，{rule}），实际成功")
    if not reply.err_msg.startswith(f"[{code}]"):
        pytest.fail(f"【{reply.infno}】{reply.msgid} 应拒绝（{code}，{rule}），实际应答 {reply.err_msg}")
    return reply
