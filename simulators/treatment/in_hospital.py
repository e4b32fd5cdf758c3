"""Who is in hospital: each person's open inpatient visit, which every admission (2401) looks for.

On PostgreSQL the look-up is a read the event loop waits for, behind every change the batch sent before
it; kept in memory it is a dictionary lookup. It is kept with the visits' rows (store/rows.py), so a failed
unit or batch takes back what it changed here too: a node's admissions are kept from its start
(``complete``), each visit's opening and closing through :meth:`InHospital.changed`.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, func, literal_column, select

from ..store import Store, visits
from ..store.prepared import ABSENT

INPATIENT = "inpatient"


class Stay(Protocol):
    """What is needed of a visit (visits.Visit)."""

    mdtrt_id: str
    psn_no: str
    state: str
    kind: Any  # visits.Kind: its ``machine`` names the kind


class InHospital:
    """One treatment node's open inpatient visits, by person."""

    def __init__(self, store: Store, node: str, open_states: tuple[str, ...]) -> None:
        self.node, self.open_states = node, open_states
        self.kept = store.q.in_hospital
        is_open = visits.c.state.in_([literal_column(f"'{s}'") for s in open_states])  # no list to bind
        self.ask = store.q.prepare(
            select(visits.c.mdtrt_id).where(
                visits.c.node == bindparam("k_node"),
                visits.c.psn_no == bindparam("k_psn_no"),
                visits.c.kind == literal_column(f"'{INPATIENT}'"),
                is_open,
            )
        )
        if self.kept is None:
            return
        with store.read() as conn:
            mine = (visits.c.node == node) & (visits.c.kind == INPATIENT) & is_open
            twice = conn.execute(
                select(visits.c.psn_no).where(mine).group_by(visits.c.psn_no).having(func.count() > 1)
            ).first()
            # one visit each, as the rule has it (a platform broken on purpose may have admitted twice: ask)
            rows = conn.execute(select(visits.c.node, visits.c.psn_no, visits.c.mdtrt_id).where(mine))
            self.kept.preload(rows.mappings(), complete=None if twice else node)

    def visit(self, conn: Connection, psn_no: str) -> str | None:
        """The person's open inpatient visit (its mdtrt_id), if there is one."""
        at = {"k_node": self.node, "k_psn_no": psn_no}
        kept = self.kept.get(conn, at) if self.kept is not None else ABSENT
        if kept is not ABSENT:
            return None if kept is None else kept.mdtrt_id  # type: ignore[attr-defined]
        found = self.ask.first(conn, **at)
        if self.kept is not None:
            self.kept.read(conn, at, found)
        return None if found is None else found.mdtrt_id

    def admitted_twice(self) -> None:
        """A second open visit was let in (a mutant): one kept a person is no longer the whole truth."""
        if self.kept is not None:
            self.kept.clear()

    def changed(self, conn: Connection, visit: Stay, state: str) -> None:
        """``visit`` goes to ``state``: kept if that ends its stay, or opens it again (a cancellation)."""
        was, now = visit.state in self.open_states, state in self.open_states
        if self.kept is None or visit.kind.machine != INPATIENT or was == now:
            return
        if now:
            self.opened(conn, visit.psn_no, visit.mdtrt_id)
        else:
            self.kept.deleted(conn, {"k_node": self.node, "k_psn_no": visit.psn_no})

    def opened(self, conn: Connection, psn_no: str, mdtrt_id: str) -> None:
        """An inpatient visit open from now on: registered, or opened again."""
        if self.kept is not None:
            self.kept.inserted(conn, {"node": self.node, "psn_no": psn_no, "mdtrt_id": mdtrt_id})
