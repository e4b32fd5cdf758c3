from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from yidi.reports import issuer
from yidi.simulators.app import Options
from yidi.simulators.background import Served, serving

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session", autouse=True)
def issuer_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The key that signs the certificates the tests write: one of the tests', never the user's own
    (handed to the commands the tests start in their environment)."""
    path = tmp_path_factory.mktemp("issuer") / "issuer-ed25519.pem"
    before = os.environ.get(issuer.ENV)
    os.environ[issuer.ENV] = str(path)
    yield path
    if before is None:
        os.environ.pop(issuer.ENV, None)
    else:
        os.environ[issuer.ENV] = before


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A fresh simulator with its own database, per test."""
    with serving(Options(db=f"sqlite:///{tmp_path / 'state.db'}")) as handle:
        yield handle
