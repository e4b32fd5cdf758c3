"""Fixtures of the hub role (国家平台 as the SUT): yidi plays the treatment provinces in front of it and,
when builtin, the insured provinces behind it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..insured.client import Platform, as_hub, as_treatment
from ..plugin import Sut


@pytest.fixture
def province(sut: Sut) -> Callable[[str], Platform]:
    """``province(hospital)``: yidi as that hospital's treatment province, sending to the hub under test."""
    return lambda code: as_treatment(sut, code)


@pytest.fixture
def insured(sut: Sut) -> Callable[[str], Platform]:
    """``insured(hospital)``: the same treatment province's messages sent straight to yidi's own insured
    provinces (as a hub would relay them): what the hub under test must pass back unchanged."""
    return lambda code: as_hub(sut, code)
