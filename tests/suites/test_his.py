"""The his role's desk (suites/his/desk.py): yidi as the platform watches what a hospital's HIS sends and
judges it. With a person at the HIS (manual) the desk waits and says what it waited for; the cases
themselves, and the mutants they catch, are run by test_catalogue.py."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from yidi.actors.his import Episode, His, LostAnswer, Reply
from yidi.simulators.background import Served
from yidi.suites.failures import NothingCame
from yidi.suites.his.desk import Clerk, Desk, Speaker
from yidi.suites.his.steps import admitted
from yidi.suites.his.test_reliability import (
    test_a_lost_settlement_answer_is_resent_or_reversed_never_settled_anew as lost_answer_case,
)
from yidi.suites.plugin import Sut

HOSPITAL, PERSON = "H50000000001", "P01"


def manual_desk(served: Served, config: pytest.Config, evidence: list[Reply], timeout: float) -> Desk:
    """A desk with nobody from yidi at the HIS: whoever the test sends in plays the tester."""
    person = next(p for p in served.roster["persons"] if p["key"] == PERSON)
    items = served.items("500000", 2)
    tester = Speaker(config, loud=False)
    hospital = served.hospital(HOSPITAL)
    return Desk(
        served.sim, served.sim.wire, hospital, person, items, tester, evidence, clerk=None, timeout=timeout
    )


def test_a_tester_who_does_nothing_gets_a_verdict_naming_what_was_awaited(
    served: Served, pytestconfig: pytest.Config
) -> None:
    desk = manual_desk(served, pytestconfig, [], timeout=0.3)
    try:
        with pytest.raises(NothingCame) as verdict:
            admitted(desk, batches=0)
    finally:
        desk.close()
    assert "未收到HIS发送的【1101】" in verdict.value.msg and "等待0秒超时" in verdict.value.msg


def test_a_person_at_a_real_his_is_watched_and_judged_like_the_reference_one(
    served: Served, pytestconfig: pytest.Config
) -> None:
    evidence: list[Reply] = []
    desk = manual_desk(served, pytestconfig, evidence, timeout=10)
    his = His(served.sim.wire, served.hospital(HOSPITAL))  # the tester's HIS, driven by hand
    at_the_desk = threading.Thread(target=lambda: his.stay(served.card(PERSON), desk.items, batch=1))
    at_the_desk.start()
    try:
        stay = admitted(desk, batches=2)
    finally:
        at_the_desk.join()
        desk.close()
    assert stay.mdtrt_id and len(stay.lines) == 2
    assert [r.infno for r in evidence] == ["9001", "1101", "2401", "2301", "2301"]  # the case's evidence
    assert all(not node.observers for node in served.sim.treatment.values())  # watching stopped


class ResendingHis(His):
    """A HIS that, when a settlement's answer is lost, sends the very same message again (same msgid)."""

    def settle(self, episode: Episode, **kw: Any) -> Reply:
        data = {"data": self.settlement_data(episode, "2304", use_account=True, mid=False)}
        message = self.message("2304", data, insuplc_admdvs=episode.insuplc_admdvs)
        try:
            return self.send(message)
        except LostAnswer:
            return self.send(message)


def test_a_his_that_resends_a_lost_settlement_under_its_msgid_passes_too(
    served: Served, pytestconfig: pytest.Config
) -> None:
    person = next(p for p in served.roster["persons"] if p["key"] == "P13")
    hospital, items = served.hospital("H11000000001"), served.items("110000", 2)
    clerk = Clerk(served.sim.wire, hospital, served.card("P13"), items, ())
    clerk.his = ResendingHis(served.sim.wire, hospital)
    evidence: list[Reply] = []
    speaker = Speaker(pytestconfig, loud=False)
    desk = Desk(
        served.sim, served.sim.wire, hospital, person, items, speaker, evidence, clerk=clerk, timeout=10
    )
    try:
        sut = Sut(
            served.sim.wire,
            served.sim.topology,
            served.roster,
            served.url,
            builtin=True,
            served=served,
            admin=served.admin,
        )
        lost_answer_case(sut, desk)  # JT-REL-301 as the catalogue runs it
    finally:
        desk.close()
    settlements = [r for r in evidence if r.infno == "2304"]
    assert len(settlements) == 2 and settlements[0].msgid == settlements[1].msgid and not settlements[0].body


def test_a_message_for_the_patient_of_an_ended_case_is_passed_over_not_judged(
    served: Served, pytestconfig: pytest.Config
) -> None:
    # a real HIS still sending for the last case's patient while the tester starts the next case
    desk = manual_desk(served, pytestconfig, [], timeout=10)
    tester = His(served.sim.wire, served.hospital(HOSPITAL))
    someone_else = served.card("P02")

    def tester_at_the_his() -> None:
        tester.sign_in()
        tester.person_info(someone_else)  # the previous case's patient, read again
        tester.stay(served.card(PERSON), [])  # then this case's: 1101 and 2401, no fees

    thread = threading.Thread(target=tester_at_the_his)
    thread.start()
    try:
        stay = admitted(desk, batches=0)  # waits for this case's 1101 and 2401 and judges them
    finally:
        thread.join()
        desk.close()
    assert stay.psn_no == next(p for p in served.roster["persons"] if p["key"] == PERSON)["psn_no"]
    assert [s.infno for s in desk.received] == ["9001", "1101", "2401"]  # the other person's 1101 not counted
    assert desk.received[1].data()["mdtrt_cert_no"] != someone_else["cardno"]


def test_the_tester_channel_is_json_lines_a_robot_can_follow(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from yidi.cli import app

    events = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "certify",
            "--role",
            "his",
            "--tester-events",
            str(events),
            "--his-wait",
            "20",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    kinds = [e["event"] for e in lines]
    assert kinds.count("case_start") == kinds.count("case_end") == 6
    for start, end in zip(
        (i for i, k in enumerate(kinds) if k == "case_start"),
        (i for i, k in enumerate(kinds) if k == "case_end"),
        strict=True,
    ):
        assert start < end and lines[start]["case"] == lines[end]["case"]
        inside = [e for e in lines[start + 1 : end] if e["event"] == "instruct"]
        assert inside and all(
            e["action"]["do"] and e["action"]["person"] == lines[start]["person"] for e in inside
        )
    admit = next(e for e in lines if e["event"] == "instruct" and e["action"]["do"] == "read_card_and_admit")
    assert admit["action"]["cardno"] and isinstance(admit["action"]["fees"], list)


def test_a_platform_served_for_a_real_his_keeps_real_time_and_says_so(tmp_path: Path) -> None:
    """A real HIS stamps real time and the platform refuses times in its future (R-DATE-04): served for a
    person's HIS, the platform's clock is real time, not the world's date, and the briefing prints it."""
    from typer.testing import CliRunner

    from yidi.cli import app
    from yidi.simulators.background import free_port
    from yidi.world.clock import real_now

    result = CliRunner().invoke(
        app,
        [
            *("certify", "--role", "his", "--sut", f"manual:{free_port()}", "--cases", "JT-CON-301"),
            *("--his-wait", "0.3", "--out", str(tmp_path), "--sut-product", "HIS", "--sut-version", "1"),
        ],
    )
    assert result.exit_code == 1, result.output  # nobody at the HIS: the case fails, the run does not err
    assert f"平台时间{real_now():%Y-%m-%d %H:}" in result.output, result.output
