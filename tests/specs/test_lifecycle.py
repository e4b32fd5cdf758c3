from __future__ import annotations

import pytest

from yidi.specs.lifecycle import LifecycleError, Step, allowed, next_state, reverse
from yidi.specs.model import Machine, Spec


class Visit:
    """A visit driven through the spec's machine, keeping the history a simulator keeps."""

    def __init__(self, machine: Machine) -> None:
        self.machine, self.state, self.history = machine, machine.initial, []  # type: list[Step]

    def do(self, infno: str, **guards: bool) -> str:
        after = next_state(self.machine, self.state, infno, guards=guards, history=self.history)
        self.history.append(Step(infno, self.state, after))
        self.state = after
        return after

    def reverse(self, oinfno: str) -> str:
        after = reverse(self.machine, self.state, oinfno, history=self.history)
        self.history.append(Step("2601", self.state, after))
        self.state = after
        return after


@pytest.fixture
def inpatient(spec: Spec) -> Visit:
    return Visit(spec.machines["inpatient"])


def test_an_inpatient_episode_goes_registered_to_settled(inpatient: Visit) -> None:
    states = [inpatient.do(i) for i in ("2401", "2301", "2301", "2303", "2402", "2303", "2304")]
    assert states == [
        "registered",
        "fees_uploaded",
        "fees_uploaded",
        "presettled",
        "discharged",
        "discharged",
        "settled",
    ]
    assert inpatient.state in inpatient.machine.final


def test_cancellations_walk_back_exactly(inpatient: Visit) -> None:
    for infno in ("2401", "2301", "2303", "2402", "2304"):
        inpatient.do(infno)
    assert inpatient.do("2305") == "discharged"
    assert inpatient.do("2405") == "presettled"  # the state before 2402
    assert inpatient.do("2302") == "registered"  # "0000": no fees remain
    assert inpatient.do("2404") == "cancelled"


def test_admission_cannot_be_cancelled_while_fees_remain(inpatient: Visit) -> None:
    inpatient.do("2401")
    inpatient.do("2301")
    with pytest.raises(LifecycleError) as caught:
        inpatient.do("2404")
    assert caught.value.error == "E4003"
    assert inpatient.do("2302", fees_remain=True) == "fees_uploaded"


def test_settled_fees_are_frozen_and_out_of_order_steps_are_refused(inpatient: Visit) -> None:
    with pytest.raises(LifecycleError) as caught:
        inpatient.do("2304")
    assert caught.value.error == "E4002"
    for infno in ("2401", "2301", "2402", "2304"):
        inpatient.do(infno)
    for infno, error in (("2301", "E4009"), ("2302", "E4009"), ("2405", "E4002"), ("2401", "E4002")):
        with pytest.raises(LifecycleError) as caught:
            inpatient.do(infno)
        assert caught.value.error == error, infno


def test_a_mid_stay_settlement_settles_without_discharge(inpatient: Visit) -> None:
    inpatient.do("2401")
    inpatient.do("2301")
    with pytest.raises(LifecycleError):
        inpatient.do("2304")  # not discharged, and not a mid-stay settlement
    assert inpatient.do("2304", mid_setl=True) == "settled"
    assert inpatient.do("2305") == "fees_uploaded"


def test_reversal_undoes_by_original_transaction(inpatient: Visit) -> None:
    for infno in ("2401", "2301", "2402", "2304"):
        inpatient.do(infno)
    assert inpatient.reverse("2304") == "discharged"
    with pytest.raises(LifecycleError) as caught:
        inpatient.reverse("2304")  # already reversed: the visit is no longer settled
    assert caught.value.error == "E4002"
    with pytest.raises(LifecycleError) as caught:
        inpatient.reverse("2301")
    assert caught.value.error == "E6003"  # not reversible


def test_reversing_an_admission_needs_its_fees_gone_first(inpatient: Visit) -> None:
    inpatient.do("2401")
    inpatient.do("2301")
    with pytest.raises(LifecycleError) as caught:
        inpatient.reverse("2401")
    assert caught.value.error == "E4003"


def test_an_outpatient_visit(spec: Spec) -> None:
    visit = Visit(spec.machines["outpatient"])
    assert [visit.do(i) for i in ("2201", "2203", "2204", "2206", "2207")] == [
        "registered",
        "registered",
        "fees_uploaded",
        "presettled",
        "settled",
    ]
    assert visit.do("2208") == "presettled"
    assert visit.reverse("2208") == "settled"


def test_allowed_lists_what_a_state_may_do(spec: Spec) -> None:
    machine = spec.machines["inpatient"]
    assert allowed(machine, "none") == ["2401"]
    assert set(allowed(machine, "registered")) == {"2403", "2301", "2402", "2404"}
    assert set(allowed(machine, "discharged", history=[Step("2402", "fees_uploaded", "discharged")])) == {
        "2303",
        "2304",
        "2405",
    }
