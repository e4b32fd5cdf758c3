"""Conformance (接口规范符合性) cases against a treatment-province platform: every answer the SUT sends in
a family of transactions validates against the spec it speaks (``sut.spec``): fields present, lengths,
code tables, datetimes, decimals, and the money rules."""

from __future__ import annotations

from functools import partial
from typing import Any

from ...actors.his import Episode, His, Reply
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import conforms, episode_to_discharge, fail, settled, succeed


def every_answer_conforms(sut: Sut, infnos: set[str]) -> None:
    """Each answer the case received validates; and the family's transactions were all answered."""
    answered = {r.infno for r in sut.exchanged}
    if not infnos <= answered:
        fail(
            f"本用例应收到交易{sorted(infnos)}的应答，缺少{sorted(infnos - answered)}",
            rule=None,
            expected=sorted(infnos),
            actual=sorted(answered),
        )
    for reply in sut.exchanged:
        conforms(sut, reply)


def query(his: His, episode: Episode, infno: str, **data: Any) -> Reply:
    return succeed(lambda: his.call(infno, {"data": data}, insuplc_admdvs=episode.insuplc_admdvs))


@case("JT-CON-001")
def test_person_info_answers_conform(sut: Sut, joint_case: Case) -> None:
    his, card = sut.his(joint_case.hospital), sut.card(joint_case.person)
    for cert_type in ("03", "02", "01"):  # social security card, ID number, e-voucher
        succeed(partial(his.person_info, card, cert_type))
    every_answer_conforms(sut, {"9001", "1101"})


@case("JT-CON-002")
def test_admission_and_fee_answers_conform(sut: Sut, joint_case: Case) -> None:
    his, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital)
    succeed(lambda: his.simple(episode, "2405"))  # cancel the discharge
    succeed(lambda: his.simple(episode, "2302", feedetl_sn="0000"))  # cancel every fee line
    succeed(lambda: his.simple(episode, "2404"))  # cancel the admission: the person leaves as they came
    every_answer_conforms(sut, {"1101", "2401", "2301", "2402", "2405", "2302", "2404"})


@case("JT-CON-003")
def test_settlement_answers_conform(sut: Sut, joint_case: Case) -> None:
    settled(sut, joint_case.person, joint_case.hospital)
    every_answer_conforms(sut, {"2303", "2304"})


@case("JT-CON-004")
def test_cancellation_and_reversal_answers_conform(sut: Sut, joint_case: Case) -> None:
    his, episode = settled(sut, joint_case.person, joint_case.hospital)
    cancellation = succeed(lambda: his.cancel_settlement(episode))
    succeed(lambda: his.reverse(episode, cancellation.msgid, "2305"))  # the settlement stands again
    every_answer_conforms(sut, {"2305", "2601"})


@case("JT-CON-005")
def test_query_answers_conform(sut: Sut, joint_case: Case) -> None:
    his, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital)
    staying = query(
        his,
        episode,
        "5303",
        psn_no=episode.psn_no,
        begntime="2000-01-01 00:00:00",
        endtime="2099-12-31 23:59:59",
    )
    if not any(row.get("mdtrt_id") == episode.mdtrt_id for row in staying.output.get("data") or []):
        fail(
            f"在院信息查询应含就诊{episode.mdtrt_id}",
            rule="R-QRY-03",
            on=staying,
            expected={"mdtrt_id": episode.mdtrt_id},
            actual=staying.output,
        )
    succeed(lambda: his.presettle(episode))
    succeed(lambda: his.settle(episode))
    setl_id = episode.settlement["setlinfo"]["setl_id"]  # type: ignore[index]
    query(his, episode, "5203", psn_no=episode.psn_no, setl_id=setl_id, mdtrt_id=episode.mdtrt_id)
    query(his, episode, "5204", psn_no=episode.psn_no, setl_id=setl_id, mdtrt_id=episode.mdtrt_id)
    every_answer_conforms(sut, {"5303", "5204", "5203"})
