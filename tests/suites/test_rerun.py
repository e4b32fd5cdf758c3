"""A joint-test environment is not reset between runs (issue #19): certifying one running system twice
passes both times, and the cases leave no stay open behind them."""

from __future__ import annotations

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
