"""The certification document the report tests render: frozen from a real run.

``certification.json`` holds what yidi's HIS client really sent and the reference simulators really
answered (JT-ADM-002 ran against the ``skip-filing-check`` mutant to get a real failure, JT-SET-008 lost
its 2305 answer to the ``drop-answer`` fault); the document then names a fictitious SUT URL. Its ``titles``
and each case's ``failure`` were added when the document came to carry them (JT-ADM-002's reason is the
line its failure renders to).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

FIXTURE = Path(__file__).with_name("certification.json")


@pytest.fixture(scope="session")
def frozen_document() -> dict[str, Any]:
    """The fixture as read from disk: not to be changed."""
    doc: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return doc


@pytest.fixture
def document(frozen_document: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy each test may change."""
    return copy.deepcopy(frozen_document)
