"""The treatment node's shared parts on their own (simulators/treatment/visits.py): the life cycle a visit
moves through (step), what a move writes into its document (Visit.record), the version check a save
makes, and where a person's settlement goes (insurer, ask)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Connection

from yidi.simulators.app import Options, Simulation
from yidi.simulators.gateway import BusinessError, Relayed
from yidi.simulators.links import Unreachable
from yidi.simulators.treatment.visits import Visit, step
from yidi.specs import loader

from ..test_store import _serve

SPEC = loader.load()
ADMITTED = [["2401", "none", "registered"], ["2301", "registered", "fees_uploaded"]]
DISCHARGED = [*ADMITTED, ["2402", "fees_uploaded", "discharged"]]
SETTLED = [*DISCHARGED, ["2304", "discharged", "settled"]]


def visit(state: str, history: list[list[str]] | None = None, kind: str = "inpatient", **doc: Any) -> Visit:
    row = SimpleNamespace(
        mdtrt_id="M1",
        psn_no="P1",
        state=state,
        version=3,
        fixmedins_code="H51010000001",
        insuplc_admdvs="510100",
        cross=False,
        kind=kind,
        doc={"history": [list(h) for h in history or []], "fees": {}, **doc},
    )
    return Visit(row)


def refusal(v: Visit, infno: str, **kw: Any) -> BusinessError:
    with pytest.raises(BusinessError) as e:
        step(SPEC, v, infno, **kw)
    return e.value


# ── step: the life cycle ───────────────────────────────────────────


def test_a_visit_moves_as_the_life_cycle_says() -> None:
    assert step(SPEC, visit("registered"), "2301") == "fees_uploaded"
    assert step(SPEC, visit("fees_uploaded"), "2402") == "discharged"
    assert step(SPEC, visit("discharged"), "2304") == "settled"
    assert step(SPEC, visit("fees_uploaded"), "2302", fees_remain=True) == "fees_uploaded"
    assert step(SPEC, visit("fees_uploaded"), "2302", fees_remain=False) == "registered"
    assert step(SPEC, visit("fees_uploaded", kind="outpatient"), "2207") == "settled"  # no discharge


@pytest.mark.parametrize(
    ("state", "infno", "code"),
    [
        ("settled", "2301", "E4009"),  # fees are frozen once settled
        ("settled", "2302", "E4009"),
        ("registered", "2302", "E4008"),  # nothing to cancel
        ("fees_uploaded", "2404", "E4003"),  # cancel the fees before the admission
        ("discharged", "2404", "E4003"),
        ("registered", "2304", "E4002"),  # settle after discharge
        ("fees_uploaded", "2304", "E4002"),  # ... unless mid-stay
        ("settled", "2402", "E4002"),
        ("cancelled", "2301", "E4002"),
    ],
)
def test_each_refusal_carries_its_catalogue_code(state: str, infno: str, code: str) -> None:
    refused = refusal(visit(state), infno)
    assert refused.code == code
    assert refused.values["mdtrt_id"] == "M1" and refused.values["infno"] == infno
    assert refused.values["state"] == SPEC.machines["inpatient"].states[state][0]  # named in Chinese
    assert refused.values["name"] == SPEC.transactions[infno].zh


def test_a_mid_stay_settlement_is_the_guard_that_lets_2304_skip_discharge() -> None:
    assert step(SPEC, visit("fees_uploaded"), "2304", mid_setl=True) == "settled"
    assert refusal(visit("fees_uploaded"), "2304", mid_setl=False).code == "E4002"


def test_a_visit_under_a_claim_is_judged_by_its_state_before_the_claim() -> None:
    assert step(SPEC, visit("settling", pending={"before": "discharged"}), "2304") == "settled"
    refused = refusal(visit("settling", pending={"before": "registered"}), "2304")
    assert refused.code == "E4002" and refused.values["state"] == "已入院登记"
    # a state that is not transient is judged as it is, whatever a stale pending says
    assert refusal(visit("registered", pending={"before": "discharged"}), "2304").code == "E4002"


def test_cancellation_and_reversal_go_back_to_the_state_the_history_records() -> None:
    assert step(SPEC, visit("settled", SETTLED), "2305") == "discharged"
    assert step(SPEC, visit("settled", SETTLED), "2601", reverse="2304") == "discharged"
    assert step(SPEC, visit("discharged", DISCHARGED), "2405") == "fees_uploaded"
    assert step(SPEC, visit("registered", ADMITTED[:1]), "2601", reverse="2401") == "cancelled"
    assert refusal(visit("settled", []), "2305").code == "E4002"  # no settlement in its history
    assert refusal(visit("fees_uploaded", ADMITTED), "2601", reverse="2401").code == "E4003"
    assert refusal(visit("settled", SETTLED), "2601", reverse="2402").code == "E6003"  # not reversible


# ── Visit.record: what a move writes ───────────────────────────────


def test_a_move_is_written_into_the_history_and_the_state_waits_for_the_store() -> None:
    v = visit("registered", ADMITTED[:1])
    v.record("fees_uploaded", "2301")
    assert v.doc["history"] == ADMITTED and v.state == "registered"
    v.record("fees_uploaded")  # no transaction, no history
    assert v.doc["history"] == ADMITTED


def test_leaving_a_claim_consumes_it_and_records_the_state_before_it() -> None:
    v = visit("settling", DISCHARGED, pending={"before": "discharged", "remote": "m1", "oinfno": "Y2304"})
    v.record("settled", "2304")
    assert "pending" not in v.doc
    assert v.doc["history"][-1] == ["2304", "discharged", "settled"]  # never "settling"


def test_a_claim_taken_or_released_writes_no_history() -> None:
    v = visit("settling", DISCHARGED, pending={"before": "discharged"})
    v.record("reversing")  # from one transient state to another: the claim stays
    assert v.doc["pending"] == {"before": "discharged"}
    v.record("discharged")  # released
    assert "pending" not in v.doc and v.doc["history"] == DISCHARGED


def test_a_visit_changed_meanwhile_is_not_written_R_CONC_01(sim: Simulation) -> None:
    node = sim.treatment["510000"]
    with node.store.begin() as conn:
        node.store.q.new_visit.run(
            conn,
            node=node.name,
            mdtrt_id="M-CONC",
            psn_no="P1",
            fixmedins_code="H51010000001",
            insuplc_admdvs="510100",
            kind="inpatient",
            state="registered",
            version=0,
            cross=False,
            doc={"history": ADMITTED[:1], "fees": {}},
            sim_time=sim.clock.now(),
        )
        first, second = (
            Visit(node.store.q.visit.first(conn, k_node=node.name, k_mdtrt_id="M-CONC")) for _ in "12"
        )
        node.save(conn, first, "fees_uploaded", "2301")
        assert (first.state, first.version) == ("fees_uploaded", 1)
        with pytest.raises(BusinessError) as e:
            node.save(conn, second, "discharged", "2402")  # read before the first save
        assert e.value.code == "E6005"
        row = node.store.q.visit.first(conn, k_node=node.name, k_mdtrt_id="M-CONC")
        assert (row.state, row.version, row.doc["history"]) == ("fees_uploaded", 1, ADMITTED)


def test_fee_lines_are_written_with_the_visit_only_when_changed_and_kept_exact(tmp_path: Path) -> None:
    """The fee lines live apart from the visit's document (visit_fees), loaded on demand and written only
    after change_fees(), in the unit of the visit's save: a unit that changes them and then fails leaves the
    lines kept in memory as the database has them, a save that did not load them leaves them alone, and a
    restart (nothing kept) reads what was committed."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    sim = Simulation(Options(db=url))
    node = sim.treatment["510000"]
    q, seen = node.store.q, []

    def load(conn: Connection) -> Visit:
        return Visit(q.visit.first(conn, k_node=node.name, k_mdtrt_id="M-FEES"))

    def admit(conn: Connection) -> None:
        q.new_visit.run(
            conn, node=node.name, mdtrt_id="M-FEES", psn_no="P1", fixmedins_code="H51010000001",
            insuplc_admdvs="510100", kind="inpatient", state="registered", version=0, cross=False,
            doc={"history": ADMITTED[:1]}, sim_time=sim.clock.now(),
        )  # fmt: skip
        assert node.load_fees(conn, load(conn)) == {}  # no lines yet: nothing asked for

    def upload(conn: Connection) -> None:
        visit = load(conn)
        node.load_fees(conn, visit)
        visit.change_fees().update({"F1": {"status": "active"}, "F2": {"status": "active"}})
        node.save(conn, visit, "fees_uploaded", "2301")

    def cancel(sn: str, then_fail: bool) -> Callable[[Connection], None]:
        def unit(conn: Connection) -> None:
            visit = load(conn)
            node.load_fees(conn, visit)
            visit.change_fees()[sn]["status"] = "cancelled"
            node.save(conn, visit, "fees_uploaded", "2302")
            if then_fail:
                raise RuntimeError("after the save")

        return unit

    def discharge(conn: Connection) -> None:
        visit = load(conn)  # lines not loaded: not written
        node.save(conn, visit, "discharged", "2402")
        assert visit.fees is None

    def look(conn: Connection) -> None:
        visit = load(conn)
        lines = node.load_fees(conn, visit)
        seen.append((visit.version, visit.doc.get("fees_row"), "fees" in visit.doc, lines))

    active, cancelled = {"status": "active"}, {"status": "cancelled"}
    batches = [[admit, upload], [cancel("F1", then_fail=True), look], [cancel("F2", False), discharge, look]]
    assert _serve(node.store, batches) == [None, None, None]
    assert seen == [
        (1, True, False, {"F1": active, "F2": active}),  # the failed unit's cancellation taken back
        (3, True, False, {"F1": active, "F2": cancelled}),  # the discharge left the lines as they were
    ]
    sim.store.close()

    restarted = Simulation(Options(db=url))  # nothing kept: what the database has
    node = restarted.treatment["510000"]
    with node.store.begin() as conn:
        visit = load(conn)
        lines = node.load_fees(conn, visit)
        assert (visit.state, visit.version, lines) == ("discharged", 3, {"F1": active, "F2": cancelled})
    restarted.store.close()


def test_fee_lines_in_an_older_document_move_to_their_row_at_the_next_save(sim: Simulation) -> None:
    node = sim.treatment["510000"]
    lines = {"F1": {"status": "active", "amount": "1.00"}}
    with node.store.begin() as conn:
        node.store.q.new_visit.run(
            conn, node=node.name, mdtrt_id="M-OLD", psn_no="P1", fixmedins_code="H51010000001",
            insuplc_admdvs="510100", kind="inpatient", state="fees_uploaded", version=0, cross=False,
            doc={"history": ADMITTED, "fees": lines}, sim_time=sim.clock.now(),
        )  # fmt: skip
        old = Visit(node.store.q.visit.first(conn, k_node=node.name, k_mdtrt_id="M-OLD"))
        assert old.live_fees() == lines  # read from the document, no row asked for
        node.save(conn, old, "discharged", "2402")  # a save that changes no line moves them all the same
        row = node.store.q.visit.first(conn, k_node=node.name, k_mdtrt_id="M-OLD")
        assert "fees" not in row.doc and row.doc["fees_row"]
        assert node.load_fees(conn, Visit(row)) == lines


# ── insurer and ask: routing to the insured side ───────────────────


def test_the_own_province_is_settled_in_process_and_every_other_through_the_hub(sim: Simulation) -> None:
    node = sim.treatment["510000"]
    assert node.own is not None and node.hub is not None and node.own is not node.hub
    assert node.insurer("510100") is node.own and node.insurer("511000") is node.own  # any city of Sichuan
    assert node.insurer("500000") is node.hub and node.insurer("610900") is node.hub
    assert node.insurer("990000") is node.hub  # the hub answers for a region it does not know


def test_an_unknown_region_with_no_hub_to_ask_is_refused_E6007(
    sim: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = sim.treatment["510000"]
    monkeypatch.setattr(node, "hub", None)
    with pytest.raises(BusinessError) as e:
        node.insurer("990000")
    assert e.value.code == "E6007" and e.value.values == {"insuplc": "990000"}
    assert node.insurer("510100") is node.own


class Answering:
    """A peer that answers every message with one answer, or is unreachable."""

    def __init__(self, answer: Mapping[str, Any] | None) -> None:
        self.answer = answer

    async def send(self, message: Mapping[str, Any]) -> dict[str, Any]:
        if self.answer is None:
            raise Unreachable("down")
        return dict(self.answer)


def test_ask_relays_refusals_and_names_silence_by_who_was_silent(
    sim: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = sim.treatment["510000"]
    message = {"infno": "Y2304", "insuplc_admdvs": "500000"}
    assert asyncio.run(node.ask(Answering({"infcode": 0, "output": {}}), message))["infcode"] == 0  # type: ignore[arg-type]
    with pytest.raises(Relayed) as relayed:
        asyncio.run(node.ask(Answering({"infcode": -2, "err_msg": "[E3002]未备案"}), message))  # type: ignore[arg-type]
    assert (relayed.value.infcode, relayed.value.err_msg) == (-2, "[E3002]未备案")  # as it came
    with pytest.raises(BusinessError) as own:
        asyncio.run(node.ask(Answering(None), message))  # type: ignore[arg-type]
    assert own.value.code == "E6006"  # the insured platform
    hub = Answering(None)
    monkeypatch.setattr(node, "hub", hub)
    with pytest.raises(BusinessError) as silent_hub:
        asyncio.run(node.ask(hub, message))  # type: ignore[arg-type]
    assert silent_hub.value.code == "E6008"  # the hub
