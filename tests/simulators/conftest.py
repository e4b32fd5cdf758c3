from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from yidi.simulators.app import Options, Simulation
from yidi.simulators.background import Served, free_port, serving

__all__ = ["Served", "free_port", "serving"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulation]:
    """Every node of the default topology wired in-process and never served: their parts called directly,
    with no message (one per test module)."""
    simulation = Simulation(Options(db=f"sqlite:///{tmp_path_factory.mktemp('nodes') / 'state.db'}"))
    yield simulation
    simulation.store.close()


@pytest.fixture(autouse=True)
def no_simulator_bugs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail any test during which a simulator hit an unexpected error or tried to emit an invalid
    answer: the gateway turns those into -1 answers, so a test could otherwise pass over them."""
    caplog.set_level(logging.ERROR, logger="yidi.simulators")
    yield
    bugs = [
        r.getMessage() for r in caplog.records if r.name == "yidi.simulators" and r.levelno >= logging.ERROR
    ]
    assert bugs == [], bugs
