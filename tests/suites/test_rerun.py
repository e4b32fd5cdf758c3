"""A joint-test environment is not reset between runs (issue #19): certifying one running system twice
passes both times, and the cases leave no stay open behind them."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from yidi.simulators.background import Served
from yidi.simulators.store import visits

from .test_worlds import certify


def test_certifying_one_running_system_twice_passes_both_times(served: Served, tmp_path: Path) -> None:
    for run in ("first", "second"):
        result = certify(
            "--role",
            "all",
            "--sut",
            served.url,
            "--admin-token",
            served.sim.admin_token,
            "--out",
            str(tmp_path / run),
        )
        assert result.exit_code == 0, result.output
        assert "his角色不适用" in result.output  # a platform by URL: the his role is a HIS's
    with served.sim.store.begin() as conn:
        open_stays = conn.execute(
            select(visits.c.mdtrt_id, visits.c.state).where(visits.c.state.not_in(("settled", "cancelled")))
        ).all()
    assert open_stays == []


def test_a_case_an_earlier_case_left_its_person_in_hospital_for_is_blocked_not_failed(tmp_path: Path) -> None:
    # 2405 answers success but does nothing: JT-ADM-011's housekeeping cannot close its stay, and JT-CON-005,
    # with the same person, cannot admit them
    result = certify(
        "--cases", "JT-ADM-011,JT-CON-005", "--mutant", "cancel-discharge-noop", "--out", str(tmp_path)
    )
    doc = json.loads((tmp_path / "certification.json").read_text(encoding="utf-8"))
    found = {c["id"]: c for c in doc["cases"]}
    assert found["JT-CON-005"]["outcome"] == "blocked", result.output
    assert "JT-ADM-011" in found["JT-CON-005"]["reason"]
    assert doc["summary"]["blocked"] == 1 and "⊘" in result.output
