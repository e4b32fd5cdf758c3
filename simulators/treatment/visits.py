"""What every family of the treatment node's handlers shares: the visits (就诊) and their life cycle, the
claims a call to another node is made under, and the way to the insured side.

A visit's document keeps its history of transactions and, while a call to the insured side is under way,
the pending claim; its fee lines are kept apart (the visit_fees table), read only by the handlers that need
them (``load(..., fees=True)``) and written only when changed, with the visit. A settlement across nodes is
claimed first (the visit moves to a transient state that records the pending call), then sent, then
committed with its answer. A crash or an unanswered call leaves a claim that recovery reverses (Y2601), so
nothing is half-done and nothing is paid twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from ...specs import lifecycle
from ...specs.envelope import datetime_text, stamp
from ...specs.model import Spec
from ...world.topology import Account, Hospital, Province
from ..gateway import BusinessError, Context, Node, Relayed, World
from ..insured.records import Insured
from ..links import Peer, Serials, Unreachable
from .in_hospital import InHospital

log = logging.getLogger("yidi.simulators")

TRANSIENT = frozenset({"settling", "cancelling", "reversing"})
# how far a HIS's clock may run ahead of the platform's before the times it states are refused (R-DATE-04)
CLOCK_TOLERANCE = timedelta(minutes=10)
OPEN = ("registered", "fees_uploaded", "presettled", "discharged", *TRANSIENT)


@dataclass(frozen=True)
class Kind:
    """What differs between an inpatient and an outpatient visit."""

    machine: str
    register: str
    cancel_registration: str
    fees: str
    cancel_fees: str
    presettle: str
    settle: str
    cancel_settlement: str


INPATIENT = Kind("inpatient", "2401", "2404", "2301", "2302", "2303", "2304", "2305")
OUTPATIENT = Kind("outpatient", "2201", "2202", "2204", "2205", "2206", "2207", "2208")
KIND_OF = {
    infno: kind for kind in (INPATIENT, OUTPATIENT) for infno in vars(kind).values() if infno.isdigit()
}


class Visit:
    """A visit row loaded for change: its state, document and version, and its fee lines once loaded.

    The fee lines (feedetl_sn → line) are tens of kilobytes on a long stay: parsing and writing them with
    every read and save of the visit was the largest single cost of a settlement. They are loaded only by
    :meth:`Treatment.load_fees` (``fees`` is None until then) and written by :meth:`Treatment.save` only
    after :meth:`change_fees`. The document's ``fees_row`` says whether the visit has a row of them (none
    before the first upload: loading them then asks nothing). A document written before the lines were
    kept apart still holds them (``fees``): they are taken from it, and moved to their row at the next save.
    """

    def __init__(self, row: Any) -> None:
        self.mdtrt_id, self.psn_no, self.state, self.version = (
            row.mdtrt_id,
            row.psn_no,
            row.state,
            row.version,
        )
        self.fixmedins_code, self.insuplc_admdvs, self.cross = (
            row.fixmedins_code,
            row.insuplc_admdvs,
            row.cross,
        )
        self.kind = INPATIENT if row.kind == "inpatient" else OUTPATIENT
        self.doc: dict[str, Any] = dict(row.doc)
        self.fees: dict[str, dict[str, Any]] | None = self.doc.pop("fees", None)
        self.fees_changed = self.fees is not None  # lines from an older document move to their row

    @property
    def history(self) -> list[lifecycle.Step]:
        return [lifecycle.Step(*step) for step in self.doc["history"]]

    def live_fees(self, batch: str | None = None) -> dict[str, dict[str, Any]]:
        assert self.fees is not None, "fee lines not loaded: Treatment.load(..., fees=True)"
        return {
            sn: f
            for sn, f in self.fees.items()
            if f["status"] == "active" and batch in (None, f.get("batch"))
        }

    def change_fees(self) -> dict[str, dict[str, Any]]:
        """The fee lines, to change in place: :meth:`Treatment.save` then writes them with the visit."""
        assert self.fees is not None, "fee lines not loaded: Treatment.load(..., fees=True)"
        self.fees_changed = True
        return self.fees

    def record(self, state: str, infno: str | None = None) -> None:
        """Write a move to ``state`` into the document (the row's state and version change when the store
        has it). Leaving a transient state consumes its claim; the history records the state the visit
        had before the claim."""
        before = self.state
        if self.state in TRANSIENT and state not in TRANSIENT:
            before = self.doc.pop("pending", {}).get("before", self.state)
        if infno:
            self.doc["history"].append([infno, before, state])


def not_ahead(ctx: Context, node: str, *names: str) -> None:
    """The times a message states (admission, discharge, a fee) are not in the platform's future beyond
    the clocks' tolerance: a stay dated 9999-12-31 must not be booked (R-DATE-04)."""
    if ctx.node.faults.mutant("accept-future-times"):
        return
    body = ctx.input.get(node)
    latest = datetime_text(ctx.now + CLOCK_TOLERANCE)
    for row in body if isinstance(body, list) else [body]:
        for name in names:
            value = row.get(name) if isinstance(row, Mapping) else None
            if value and str(value) > latest:  # yyyy-MM-dd HH:mm:ss: the text orders as the time
                raise BusinessError(
                    "E4012",
                    name=_zh(ctx, node, name),
                    field=name,
                    value=value,
                    now=datetime_text(ctx.now),
                    tolerance=int(CLOCK_TOLERANCE.total_seconds() // 60),
                )


def not_before_admission(ctx: Context, node: str, name: str, visit: Visit) -> None:
    """A visit's time (its discharge) is not before its admission (R-DATE-04)."""
    value, begun = ctx.input[node].get(name), visit.doc["begntime"]
    if value and str(value) < str(begun) and not ctx.node.faults.mutant("accept-discharge-before-admission"):
        raise BusinessError(
            "E4011",
            name=_zh(ctx, node, name),
            field=name,
            value=value,
            other_name="入院时间",
            other_field="begntime",
            other=begun,
        )


def _zh(ctx: Context, node: str, name: str) -> str:
    found = ctx.spec.transaction(ctx.infno).input.get(node)
    return found.fields[name].zh if found is not None and name in found.fields else name


def step(spec: Spec, visit: Visit, infno: str, *, reverse: str | None = None, **guards: bool) -> str:
    """The state after ``infno`` (or after reversing ``reverse``), or the life-cycle's refusal. A visit
    under a claim is judged by the state it had before the claim."""
    machine = spec.machines[visit.kind.machine]
    state = (
        visit.doc.get("pending", {}).get("before", visit.state) if visit.state in TRANSIENT else visit.state
    )
    try:
        if reverse:
            return lifecycle.reverse(machine, state, reverse, history=visit.history)
        return lifecycle.next_state(machine, state, infno, guards=guards, history=visit.history)
    except lifecycle.LifecycleError as e:
        names = spec.transactions
        raise BusinessError(
            e.error,
            mdtrt_id=visit.mdtrt_id,
            state=machine.states[state][0],
            infno=infno,
            name=names[infno].zh if infno in names else infno,
            feedetl_sn="",
            init_feedetl_sn="",
        ) from e


class Treatment(Node):
    """A treatment province's hospital face as its handler families see it: the visits in the store, the
    claims on them, and the insured side (its own in-process, everyone else's through the hub)."""

    hospital_facing = True

    def __init__(self, province: Province, world: World, wire: Spec, insured: Insured) -> None:
        accounts: dict[str, Account] = {h.paasid: h.account for h in province.hospitals.values()}
        super().__init__(f"treatment:{province.admdvs}", province.admdvs, world, accounts, wire)
        self.province, self.topology, self.insured = province, world.topology, insured
        self.ids = Serials(self.store, self.name)
        self.own: Peer | None = None  # the province's own insured face, in-process
        self.hub: Peer | None = None
        self.inflight: set[str] = set()  # visits whose claimed call is under way: recovery leaves them alone
        self.in_hospital = InHospital(self.store, self.name, OPEN)

    def new_id(self, now: datetime) -> str:
        return f"{self.admdvs}{stamp(now)}{self.ids():010d}"

    def hospital(self, ctx: Context) -> Hospital:
        return self.province.hospitals[str(ctx.message["fixmedins_code"])]

    # ── the insured side ───────────────────────────────────────────

    def insurer(self, insuplc_admdvs: str) -> Peer:
        """Where a person insured in ``insuplc_admdvs`` is settled: the own province in-process, any other
        through the hub; a region nobody knows, with no hub to ask, is refused."""
        if insuplc_admdvs[:2] == self.admdvs[:2]:
            assert self.own is not None
            return self.own
        if self.topology.province_of(insuplc_admdvs) is None and self.hub is None:
            raise BusinessError("E6007", insuplc=insuplc_admdvs)
        assert self.hub is not None
        return self.hub

    async def ask(self, peer: Peer, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send to the insured side; refusals reach the hospital as they came, silence as -1."""
        try:
            answer = await peer.send(message)
        except Unreachable as e:
            log.warning("%s: %s", self.name, e)
            raise BusinessError(
                "E6008" if peer is self.hub else "E6006", insuplc=str(message.get("insuplc_admdvs"))
            ) from e
        if answer.get("infcode") not in (0, "0"):
            raise Relayed(answer)
        return answer

    async def undo_remote(self, peer: Peer, insuplc: str, psn_no: str, msgid: str, oinfno: str) -> None:
        """Best effort: reverse a call whose outcome is unknown (Y2601); 'nothing to reverse' is fine."""
        try:
            answer = await peer.call(
                "Y2601",
                {"data": {"psn_no": psn_no, "omsgid": msgid, "oinfno": oinfno}},
                insuplc_admdvs=insuplc,
            )
            if answer.get("infcode") not in (0, "0") and "E6002" not in str(answer.get("err_msg")):
                log.warning(
                    "%s: reversal of %s %s answered %s", self.name, oinfno, msgid, answer.get("err_msg")
                )
        except Unreachable as e:
            log.warning("%s: reversal of %s %s unreachable: %s", self.name, oinfno, msgid, e)
            raise

    # ── visits ─────────────────────────────────────────────────────

    def load(self, conn: Connection, ctx: Context, mdtrt_id: str, fees: bool = False) -> Visit:
        """The visit, with its fee lines if ``fees`` (only the handlers that read or change them ask)."""
        row = self.store.q.visit.first(conn, k_node=self.name, k_mdtrt_id=mdtrt_id)
        if row is None:
            raise BusinessError("E4001", mdtrt_id=mdtrt_id)
        if row.fixmedins_code != ctx.message["fixmedins_code"] and not self.faults.mutant(
            "other-hospitals-visits"
        ):
            raise BusinessError("E2007", fixmedins_code=ctx.message["fixmedins_code"], mdtrt_id=mdtrt_id)
        visit = Visit(row)
        if fees:
            self.load_fees(conn, visit)
        return visit

    def load_fees(self, conn: Connection, visit: Visit) -> dict[str, dict[str, Any]]:
        """Load the visit's fee lines (none asked for before its first upload)."""
        if visit.fees is None:
            found = None
            if visit.doc.get("fees_row"):
                found = self.store.q.fees.first(conn, k_node=self.name, k_mdtrt_id=visit.mdtrt_id)
                assert found is not None, visit.mdtrt_id  # written in the unit that set fees_row
            visit.fees = {} if found is None else found.lines
        return visit.fees

    def same_person(self, visit: Visit, psn_no: Any) -> None:
        """A message about a visit names the visit's person (R-SEC-07)."""
        if psn_no not in (None, "") and psn_no != visit.psn_no:
            raise BusinessError("E4010", psn_no=psn_no, mdtrt_id=visit.mdtrt_id)

    def save(self, conn: Connection, visit: Visit, state: str, infno: str | None = None) -> None:
        """Write the visit back if nobody else changed it meanwhile (R-CONC-01), and its fee lines if they
        changed, in the same unit: they stand or fall together."""
        visit.record(state, infno)
        fees = visit.fees if visit.fees_changed else None
        first = fees is not None and not visit.doc.get("fees_row")
        if first:
            visit.doc["fees_row"] = True
        done = self.store.q.save_visit.run(
            conn,
            state=state,
            version=visit.version + 1,
            doc=visit.doc,
            k_node=self.name,
            k_mdtrt_id=visit.mdtrt_id,
            k_version=visit.version,
        )
        if done != 1:
            raise BusinessError("E6005", mdtrt_id=visit.mdtrt_id)
        if fees is not None:
            q = self.store.q
            if first:
                q.new_fees.run(conn, node=self.name, mdtrt_id=visit.mdtrt_id, lines=fees)
            else:
                q.save_fees.run(conn, lines=fees, k_node=self.name, k_mdtrt_id=visit.mdtrt_id)
            visit.fees_changed = False
        self.in_hospital.changed(conn, visit, state)
        visit.state, visit.version = state, visit.version + 1

    # ── claims ─────────────────────────────────────────────────────

    @contextmanager
    def in_flight(self, mdtrt_id: str) -> Iterator[None]:
        self.inflight.add(mdtrt_id)
        try:
            yield
        finally:
            self.inflight.discard(mdtrt_id)

    def claim(self, ctx: Context, mdtrt_id: str, transient: str, check: Any) -> tuple[Visit, Any]:
        """Move a visit into a transient state before calling another node; concurrent claims lose."""
        with ctx.work() as conn:
            visit = self.load(conn, ctx, mdtrt_id)
            if visit.state in TRANSIENT and not self.faults.mutant("no-settlement-lock"):
                raise BusinessError("E6005", mdtrt_id=mdtrt_id)
            prepared = check(conn, visit)
            visit.doc["pending"] = {"before": visit.state, **prepared.get("pending", {})}
            self.save(conn, visit, transient)
        return visit, prepared

    def release(self, ctx: Context, visit: Visit) -> None:
        """Undo a claim after a refusal: the visit returns to where it was."""
        with ctx.work() as conn:
            fresh = self.load(conn, ctx, visit.mdtrt_id)
            self.save(conn, fresh, fresh.doc.get("pending", {}).get("before", fresh.state))
