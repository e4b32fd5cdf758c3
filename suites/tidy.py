"""After each case: the persons as the case found them. A joint-test environment is not reset between runs:
a person still in hospital cannot be admitted by the next case or the next run (E4004), and a settlement
left standing spends the year's deductible and pooled fund that the next run's cases start from. So after
every case, whatever its outcome, each settlement it made is cancelled (newest first: 2305 / 2208 at the
hospital, Y2305 to the insured side; not in the hub role, whose clearing cases count on what they leave in
their month) and each stay it admitted is closed (2405 → 2302 → 2404, or Y2404), each outpatient visit
too (2205 → 2202).
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
Undo = tuple[tuple[str, dict[str, str]], ...]
UNDO_STAY: Undo = (("2405", {}), ("2302", {"feedetl_sn": "0000"}), ("2404", {}))  # discharge, fees, admission
UNDO_VISIT: Undo = (("2205", {"chrg_bchno": "0000"}), ("2202", {}))  # an outpatient visit's fees, the visit


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
    undo += [r for r in done if r.infno in ("2401", "2201", "Y2401")]
    for reply in undo:
        with suppress(Refused, LostAnswer, httpx.HTTPError):  # what cannot be undone stays as it is
            Housekeeper(sut, role).undo(reply)


class Housekeeper:
    """Sends the undoing messages the way the case sent the original: a HIS or yidi's platform."""

    def __init__(self, sut: Sut, role: str) -> None:
        self.sut, self.role = sut, role

    def undo(self, reply: Reply) -> None:
        insuplc = str(reply.request["insuplc_admdvs"])
        if reply.infno.startswith("Y"):  # yidi's platform, to the insured side or the hub
            info = reply.request["input"]["setlinfo" if reply.infno in CANCEL else "mdtrtinfo"]
            data = {"mdtrt_id": info["mdtrt_id"], "psn_no": info["psn_no"]}
            if reply.infno in CANCEL:
                data["setl_id"] = reply.output["setlinfo"]["setl_id"]
            relay = self.relay(str(info["fixmedins_code"]))
            infno = CANCEL.get(reply.infno, "Y2404")
            relay.send(relay.message(infno, {"data": data}, insuplc_admdvs=insuplc))
            return
        his = self.his(str(reply.request["fixmedins_code"]))  # a HIS, to the treatment platform
        if reply.infno in CANCEL:
            data = {k: reply.output["setlinfo"][k] for k in ("setl_id", "mdtrt_id", "psn_no")}
            steps: Undo = ((CANCEL[reply.infno], {}),)
        elif reply.infno == "2201":
            data = {k: reply.output["data"][k] for k in ("mdtrt_id", "psn_no", "ipt_otp_no")}
            steps = UNDO_VISIT
        else:
            data = {"mdtrt_id": reply.output["result"]["mdtrt_id"], "psn_no": admitted(his, reply)["psn_no"]}
            steps = UNDO_STAY
        for infno, extra in steps:
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
