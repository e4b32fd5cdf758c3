"""Admission (入院) at a hospital HIS: the card read and the admission as the platform receives them."""

from __future__ import annotations

from ..plugin import case
from .desk import Desk
from .steps import admitted


@case("JT-ADM-301")
def test_a_card_admission_reads_the_card_and_admits_that_person(desk: Desk) -> None:
    admitted(desk, batches=0)  # 1101 with the card and its card_sn, then 2401 of the person it answered
