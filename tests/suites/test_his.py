"""The his role's desk (suites/his/desk.py): yidi as the platform watches what a hospital's HIS sends and
judges it. With a person at the HIS (manual) the desk waits and says what it waited for; the cases
themselves, and the mutants they catch, are run by test_catalogue.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from yidi.actors.his import Episode, His, LostAnswer, Reply
from yidi.simulators.app import Options
from yidi.simulators.background import Served, serving
from yidi.suites.failures import NothingCame
from yidi.suites.his.desk import Clerk, Desk, Speaker
from yidi.suites.his.steps import admitted
from yidi.suites.his.test_reliability import (
    test_a_lost_settlement_answer_is_resent_or_reversed_never_settled_anew as lost_answer_case,
)
from yidi.suites.plugin import Sut

HOSPITAL, PERSON = "H50000000001", "P01"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serving(Options(db=f"sqlite:///{tmp_path / 'state.db'}")) as handle:
        yield handle


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
            served.sim.wire, served.sim.topology, served.roster, served.url, builtin=True, served=served
        )
        lost_answer_case(sut, desk)  # JT-REL-301 as the catalogue runs it
    finally:
        desk.close()
    settlements = [r for r in evidence if r.infno == "2304"]
    assert len(settlements) == 2 and settlements[0].msgid == settlements[1].msgid and not settlements[0].body
