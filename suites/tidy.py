"""After each case: the persons as the case found them. A joint-test environment is not reset between runs:
a person still in hospital cannot be admitted by the next case or the next run (E4004), and a settlement
left standing spends the year's deductible and pooled fund that the next run's cases start from. So after
every case, whatever its outcome, each settlement it made is cancelled (newest first: 2305 / 2208 at the
hospital, Y2305 to the insured side; not in the hub role, whose clearing cases count on what they leave in
their month) and each stay it admitted is closed (2405 → 2302 → 2404, or Y2404).
What is already cancelled, reversed or closed refuses, which is as it should be. These messages are
housekeeping, not the case's evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import httpx
import pytest

from ..actors.his import His, LostAnswer, Refused, Reply
from . import catalogue
from .insured.client import Platform, as_hub, as_treatment
from .plugin import Sut

CANCEL = {"2304": "2305", "2207": "2208", "Y2304": "Y2305"}  # a settlement → its cancellation
UNDO_STAY: tuple[tuple[str, dict[str, str]], ...] = (
    ("2405", {}),
    ("2302", {"feedetl_sn": "0000"}),
    ("2404", {}),
)  # discharge, every fee, admission


@pytest.fixture(autouse=True)
def as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    marker = request.node.get_closest_marker("case")
    if marker is None:
        return
    role = catalogue.load()[marker.args[0]].role
    if role not in ("treatment", "insured", "hub"):
        return  # in the his role yidi is the platform, fresh for every run
    sut: Sut = request.getfixturevalue("sut")
    done = [r for r in sut.exchanged if r.ok]
    # the hub's cases settle in months of their own and count on the prepayment funds they leave
    undo = [r for r in reversed(done) if r.infno in CANCEL and role != "hub"]
    undo += [r for r in done if r.infno in ("2401", "Y2401")]
    for reply in undo:
        with suppress(Refused, LostAnswer, httpx.HTTPError):  # what cannot be undone stays as it is
            Housekeeper(sut, role).undo(reply)


class Housekeeper:
    """Sends the undoing messages the way the case sent the original: a HIS or yidi's platform."""

    def __init__(self, sut: Sut, role: str) -> None:
        self.sut, self.role = sut, role

    def undo(self, reply: Reply) -> None:
        insuplc = str(reply.request["insuplc_admdvs"])
        if reply.infno.startswith("Y"):
            info = reply.request["input"]["setlinfo" if reply.infno in CANCEL else "mdtrtinfo"]
            relay = self.relay(str(info["fixmedins_code"]))
            data = {"mdtrt_id": info["mdtrt_id"], "psn_no": info["psn_no"]}
            if reply.infno in CANCEL:
                data["setl_id"] = reply.output["setlinfo"]["setl_id"]
            relay.send(
                relay.message(CANCEL.get(reply.infno, "Y2404"), {"data": data}, insuplc_admdvs=insuplc)
            )
            return
        his = self.his(str(reply.request["fixmedins_code"]))
        if reply.infno in CANCEL:
            s = reply.output["setlinfo"]
            data = {"setl_id": s["setl_id"], "mdtrt_id": s["mdtrt_id"], "psn_no": s["psn_no"]}
            his.call(CANCEL[reply.infno], {"data": data}, insuplc_admdvs=insuplc, check=False)
            return
        data = {"mdtrt_id": reply.output["result"]["mdtrt_id"], "psn_no": admitted(his, reply)["psn_no"]}
        for infno, extra in UNDO_STAY:
            his.call(infno, {"data": data | extra}, insuplc_admdvs=insuplc, check=False)

    def his(self, code: str) -> His:
        his = His(self.sut.spec, self.sut.hospital(code))
        his.sign_in()
        return his

    def relay(self, code: str) -> Platform:
        relay = (as_hub if self.role == "insured" else as_treatment)(self.sut, code)
        relay.into = []
        return relay


def admitted(his: His, admission: Reply) -> Any:
    """What a 2401 admitted, in the base spec's shape (a profile may rename the node)."""
    return his.adapter.to_base("2401", "input", admission.request["input"])["mdtrtinfo"]
