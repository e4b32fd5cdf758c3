from __future__ import annotations

import pytest

from yidi.specs import loader
from yidi.specs.model import Spec

ALL_REFS = [f"{v}+{p}" for v in loader.versions() for p in loader.profiles()]


@pytest.fixture(scope="session")
def spec() -> Spec:
    return loader.load()


@pytest.fixture(scope="session", params=ALL_REFS)
def any_spec(request: pytest.FixtureRequest) -> Spec:
    return loader.load(request.param)
