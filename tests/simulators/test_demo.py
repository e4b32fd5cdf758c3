"""``yidi demo``: its scenarios pass on the reference simulators and fail on the mutants they guard."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from yidi.cli import app
from yidi.simulators.demo import Demo

from .conftest import Served


def test_every_scenario_passes_on_the_reference_simulators(served: Served) -> None:
    outcomes = Demo(served.url, served.sim.topology, admin_token=served.sim.admin_token).run()
    assert [(o.key, o.detail) for o in outcomes if not o.passed] == []
    assert len(outcomes) == 8


@pytest.mark.parametrize(
    ("mutant", "caught"),
    [
        ("skip-filing-check", {"not-filed", "filing-expired"}),
        ("no-ytd-rollback", {"cancel-resettle"}),
        ("skip-card-sn-check", set()),  # the demo reads cards by number: card_sn is the suites' business
    ],
)
def test_the_scenarios_fail_on_the_mutants_they_guard(served: Served, mutant: str, caught: set[str]) -> None:
    served.faults(mutants=(mutant,))
    outcomes = Demo(served.url, served.sim.topology, admin_token=served.sim.admin_token).run()
    assert {o.key for o in outcomes if not o.passed} == caught


def test_the_command_starts_the_simulators_and_reports() -> None:
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "8/8 scenarios as expected" in result.output and "P01" in result.output
