"""After each case: the persons as the case found them. A joint-test environment is not reset between runs:
a person still in hospital cannot be admitted by the next case or the next run (E4004), and a settlement
left standing spends the year's deductible and pooled fund that the next run's cases start from. So after
every case, whatever its outcome, each settlement it made is cancelled (newest first: 2305 / 2208 at the
hospital, Y2305 to the insured side; not in the hub role, whose clearing cases count on what they leave in
their month) and each stay it admitted is closed (2405 → 2302 → 2404, or Y2404), each outpatient visit
too (2205 → 2202).
What is already cancelled, reversed or closed refuses, which is as it should be. These messages are
housekeeping, not the case's evidence. A stay that cannot be closed is remembered: a later case whose
admission of that person is refused is reported as blocked by the case that left it, not as failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

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


class Blocked(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """The case's person is still in a stay an earlier case could not close: the case was not performed."""

    def __init__(self, psn_no: str, by: str) -> None:
        super().__init__(f"受阻：人员{psn_no}仍在用例{by}遗留的住院中（其收尾未能撤销入院），本用例未能执行")


@pytest.fixture(autouse=True)
def as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("case")
    role = catalogue.load()[marker.args[0]].role if marker else ""
    if role not in ("treatment", "insured", "hub"):
        yield  # in the his role yidi is the platform, fresh for every run
        return
    sut: Sut = request.getfixturevalue("sut")
    watch = blocked_by(sut)
    sut.exchanged.watchers.append(watch)
    try:
        yield
    finally:
        sut.exchanged.watchers.remove(watch)
    done = [r for r in sut.exchanged if r.ok]
    keeper = Housekeeper(sut, role)
    # the hub's cases settle in months of their own and count on the prepayment funds they leave
    settled = {visit_of(r) for r in done if r.infno in CANCEL}
    for reply in (r for r in reversed(done) if r.infno in CANCEL and role != "hub"):
        if keeper.undo(reply):
            settled.discard(visit_of(reply))
    withdrawn = {sut.sent(r)["data"]["mdtrt_id"] for r in done if r.infno in ("2404", "Y2404")}
    for reply in (r for r in done if r.infno in ("2401", "2201", "Y2401")):
        closed = keeper.undo(reply) or visit_of(reply) in settled | withdrawn
        if reply.infno != "2201":  # an outpatient visit open does not keep the person from the next
            person = psn_no(sut, reply)
            if closed:
                sut.left_open.pop(person, None)
            else:
                sut.left_open[person] = str(marker.args[0])


def blocked_by(sut: Sut) -> Callable[[Reply], None]:
    """A watcher: an admission refused because an earlier case left the person in hospital blocks the case."""

    def watch(reply: Reply) -> None:
        if reply.infno in ("2401", "Y2401") and not reply.ok:
            person = psn_no(sut, reply)
            if person in sut.left_open:
                raise Blocked(person, sut.left_open[person])

    return watch


def psn_no(sut: Sut, admission: Reply) -> str:
    """Who a 2401 / Y2401 / 2201 is for."""
    return str(sut.sent(admission)["mdtrtinfo" if admission.infno != "2201" else "data"]["psn_no"])


def visit_of(reply: Reply) -> str:
    """The visit an admission or a settlement is of."""
    if reply.infno in CANCEL:
        return str(reply.output["setlinfo"]["mdtrt_id"])
    if reply.infno == "Y2401":
        return str(reply.request["input"]["mdtrtinfo"]["mdtrt_id"])
    return str(reply.output["result" if reply.infno == "2401" else "data"]["mdtrt_id"])


class Housekeeper:
    """Sends the undoing messages the way the case sent the original: a HIS or yidi's platform."""

    def __init__(self, sut: Sut, role: str) -> None:
        self.sut, self.role = sut, role

    def undo(self, reply: Reply) -> bool:
        """Send the messages that take ``reply`` back; whether the last of them succeeded (False when it was
        refused or lost: what cannot be undone stays as it is)."""
        try:
            return self._undo(reply).ok
        except (Refused, LostAnswer, httpx.HTTPError):
            return False

    def _undo(self, reply: Reply) -> Reply:
        insuplc = str(reply.request["insuplc_admdvs"])
        if reply.infno.startswith("Y"):  # yidi's platform, to the insured side or the hub
            info = reply.request["input"]["setlinfo" if reply.infno in CANCEL else "mdtrtinfo"]
            data = {"mdtrt_id": info["mdtrt_id"], "psn_no": info["psn_no"]}
            if reply.infno in CANCEL:
                data["setl_id"] = reply.output["setlinfo"]["setl_id"]
            relay = self.relay(str(info["fixmedins_code"]))
            infno = CANCEL.get(reply.infno, "Y2404")
            return relay.send(relay.message(infno, {"data": data}, insuplc_admdvs=insuplc))
        his = self.his(str(reply.request["fixmedins_code"]))  # a HIS, to the treatment platform
        if reply.infno in CANCEL:
            data = {k: reply.output["setlinfo"][k] for k in ("setl_id", "mdtrt_id", "psn_no")}
            steps: Undo = ((CANCEL[reply.infno], {}),)
        elif reply.infno == "2201":
            data = {k: reply.output["data"][k] for k in ("mdtrt_id", "psn_no", "ipt_otp_no")}
            steps = UNDO_VISIT
        else:
            data = {"mdtrt_id": reply.output["result"]["mdtrt_id"], "psn_no": psn_no(self.sut, reply)}
            steps = UNDO_STAY
        answers = [
            his.call(i, {"data": data | extra}, insuplc_admdvs=insuplc, check=False) for i, extra in steps
        ]
        return answers[-1]

    def his(self, code: str) -> His:
        his = His(self.sut.spec, self.sut.hospital(code))
        his.sign_in()
        return his

    def relay(self, code: str) -> Platform:
        relay = (as_hub if self.role == "insured" else as_treatment)(self.sut, code)
        relay.into = []
        return relay
