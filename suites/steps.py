"""Steps the cases share, in the words of a joint test: read the card, admit, upload, discharge, settle.

A refusal that was expected is checked by its error code; one that was not fails the case naming the
message and what the SUT answered, so a verdict always says why. ``fail`` carries what was expected and
what came, which the report shows side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import pytest

from yidi.simulators.his import Episode, His, Refused, Reply, credential

from .plugin import Sut


class Mismatch(pytest.fail.Exception):  # type: ignore[name-defined,misc]
    """A failed case with what was expected and what the SUT did (shown as a diff in the report)."""

    def __init__(self, why: str, expected: Any, actual: Any) -> None:
        super().__init__(why, pytrace=False)
        self.expected, self.actual = expected, actual


def fail(why: str, *, expected: Any = None, actual: Any = None) -> NoReturn:
    """Fail the case: ``why`` names the message and the rule, in the test team's words."""
    raise Mismatch(why, expected, actual)


def unexpected_refusal(e: Refused) -> NoReturn:
    r = e.reply
    fail(
        f"【{r.infno}】{r.msgid} 应成功，实际应答 infcode={r.infcode} {r.err_msg}",
        expected={"infcode": 0},
        actual={"infcode": r.infcode, "err_msg": r.err_msg},
    )


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
        unexpected_refusal(e)
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
        unexpected_refusal(e)


def refused(step: Callable[[], Any], code: str, rule: str) -> Reply:
    """The step must be refused with ``code`` (rule ``rule``)."""
    try:
        reply = step()
    except Refused as e:
        reply = e.reply
    expected = {"infcode": "-1 或 -2", "err_msg": f"[{code}]…"}
    if not isinstance(reply, Reply):
        fail(f"应拒绝（{code}，{rule}），实际成功", expected=expected, actual=reply)
    actual = {"infcode": reply.infcode, "err_msg": reply.err_msg}
    if reply.ok:
        fail(
            f"【{reply.infno}】{reply.msgid} 应拒绝（{code}，{rule}），实际成功",
            expected=expected,
            actual=actual,
        )
    if not reply.err_msg.startswith(f"[{code}]"):
        fail(
            f"【{reply.infno}】{reply.msgid} 应拒绝（{code}，{rule}），实际应答 {reply.err_msg}",
            expected=expected,
            actual=actual,
        )
    return reply
