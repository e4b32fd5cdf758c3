"""Fixtures of the insured-platform role (参保地平台 as the SUT): yidi plays the national hub before it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..plugin import Sut
from .client import Platform, as_hub


@pytest.fixture
def hub(sut: Sut) -> Callable[[str], Platform]:
    """``hub(hospital)``: yidi as the hub, relaying what that hospital's treatment province sends."""
    return lambda code: as_hub(sut, code)
