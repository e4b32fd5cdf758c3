from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from yidi.simulators.app import Options
from yidi.simulators.background import Served, serving

pytest_plugins = ["pytester"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A fresh simulator with its own database, per test."""
    with serving(Options(db=f"sqlite:///{tmp_path / 'state.db'}")) as handle:
        yield handle
