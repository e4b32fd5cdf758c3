"""Fee upload (费用上传) at a hospital HIS: batches after the admission, each line numbered once."""

from __future__ import annotations

from ..plugin import case
from .desk import Desk
from .steps import admitted


@case("JT-FEE-301")
def test_fees_go_up_in_batches_after_the_admission_each_line_once(desk: Desk) -> None:
    admitted(
        desk, batches=2
    )  # every line on the visit 2401 opened, feedetl_sn unique, lines and total as billed
