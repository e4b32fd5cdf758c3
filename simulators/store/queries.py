"""The named statements the nodes run for every simulated message, prepared once per store (``store.q``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Connection, Engine, Table, and_, bindparam, delete, select, update

from .prepared import Holder, Prepared, Written
from .rows import Cached, Rows
from .tables import (
    hub_records,
    insured_settlements,
    insured_visits,
    message_key,
    messages,
    nonces,
    persons,
    prepayment_moves,
    prepayments,
    seen_persons,
    settlements,
    signin_key,
    signins,
    visit_fees,
    visits,
)


def _k(column: str) -> Any:
    return bindparam(f"k_{column}")


def _key(table: Table, *columns: str) -> Any:
    return and_(*(table.c[c] == _k(c) for c in columns))


class Queries:
    """The statements every simulated message runs, prepared once per store."""

    def __init__(
        self,
        engine: Engine,
        cursor_for: Callable[[Connection], Any],
        written: Written,
        settle: Callable[[Connection], None] | None = None,
        rows: Rows | None = None,
        holder: Holder | None = None,
    ) -> None:
        def prepare(
            statement: Any, counted: bool = False, cached: Cached | None = None, held: bool = False
        ) -> Prepared:
            """``counted``: the caller reads the rows it changed (waited for on a pipelined batch);
            ``cached``: the table's rows kept in memory (rows.py), read from it or kept exact;
            ``held``: an INSERT nothing reads back in its batch, its rows sent together (commit.py)."""
            settles = settle if counted else None
            return Prepared(engine, statement, cursor_for, written, settles, cached, holder, held)

        self.prepare = prepare  # a node's own statements for every message (bind ``k_…`` as here)

        def keyed(table: Table, id_: str | tuple[str, ...], read: Any) -> tuple[Prepared, Cached | None]:
            """``read`` (by node and ``id_``, or by the columns ``id_``), answered from the rows kept by
            ``rows`` if it is given, and the :class:`Cached` the changes of the table keep exact."""
            cached = None
            if rows is not None:
                columns = [c.key for c in read.selected_columns]
                json = [c for c in columns if isinstance(table.c[c].type, JSON)]
                key = id_ if isinstance(id_, tuple) else ("node", id_)
                cached = Cached(rows, table.name, key, columns, json)
            return prepare(read, cached=cached), cached

        self.message = prepare(
            select(messages.c.digest, messages.c.response).where(message_key.is_(_k("node"), _k("msgid")))
        )
        # a new message is reversed by nothing: no NULL to bind (pysqlite adapts None the slow way)
        self.record = prepare(
            messages.insert().values({c.key: bindparam(c.key) for c in messages.c if c.key != "reversed_by"}),
            held=True,
        )
        self.nonce = prepare(nonces.insert(), held=True)
        self.forget = prepare(delete(messages).where(message_key.is_(_k("node"), _k("msgid"))))
        # a 2601's: the message it reverses, whole, and its mark
        self.answered = prepare(select(messages).where(message_key.is_(_k("node"), _k("msgid"))))
        self.reversed_by = prepare(
            update(messages)
            .where(message_key.is_(_k("node"), _k("msgid")))
            .values(reversed_by=bindparam("reversed_by"))
        )
        # the rows read by key on every message are kept in memory as well (rows.py): the reads below
        # are answered from it when it has them, and every change below keeps it exact
        self.signin, c = keyed(
            signins,
            "sign_no",
            select(signins.c.fixmedins_code, signins.c.signed_out).where(
                signin_key.is_(_k("node"), _k("sign_no"))
            ),
        )
        self.sign_in = prepare(signins.insert(), cached=c)
        self.visit, c = keyed(visits, "mdtrt_id", select(visits).where(_key(visits, "node", "mdtrt_id")))
        self.new_visit = prepare(visits.insert(), cached=c)
        self.save_visit = prepare(
            update(visits)
            .where(_key(visits, "node", "mdtrt_id", "version"))
            .values(state=bindparam("state"), version=bindparam("version"), doc=bindparam("doc")),
            counted=True,
            cached=c,
        )
        # who is in hospital: a person's open inpatient visit, looked for at every 2401 (kept by
        # treatment/in_hospital.py through the visits' changes: no table of its own, and no statement)
        self.in_hospital = Cached(rows, "in_hospital", ("node", "psn_no"), ["mdtrt_id"], []) if rows else None
        # a visit's fee lines, apart from its document: read and written only with a save of the visit
        self.fees, c = keyed(
            visit_fees, "mdtrt_id", select(visit_fees.c.lines).where(_key(visit_fees, "node", "mdtrt_id"))
        )
        self.new_fees = prepare(visit_fees.insert(), cached=c)
        self.save_fees = prepare(
            update(visit_fees).where(_key(visit_fees, "node", "mdtrt_id")).values(lines=bindparam("lines")),
            cached=c,
        )
        self.seen, c = keyed(
            seen_persons, "psn_no", select(seen_persons.c.doc).where(_key(seen_persons, "node", "psn_no"))
        )
        self.unsee = prepare(delete(seen_persons).where(_key(seen_persons, "node", "psn_no")), cached=c)
        self.see = prepare(seen_persons.insert(), cached=c)
        self.book = prepare(settlements.insert(), held=True)
        # a 2305's, a 2601's and the details' reads and changes of the treatment side's book
        self.settlement = prepare(select(settlements).where(_key(settlements, "node", "msgid")))
        self.in_force = prepare(
            select(settlements).where(_key(settlements, "node", "setl_id", "kind", "status"))
        )
        at = _key(settlements, "node", "msgid")
        self.set_settlement = prepare(update(settlements).where(at).values(status=bindparam("status")))
        self.settlement_doc = prepare(update(settlements).where(at).values(doc=bindparam("doc")))
        self.person, c = keyed(
            persons, "psn_no", select(persons.c.version, persons.c.doc).where(_key(persons, "node", "psn_no"))
        )
        self.save_person = prepare(
            update(persons)
            .where(_key(persons, "node", "psn_no", "version"))
            .values(version=bindparam("version"), doc=bindparam("doc")),
            counted=True,
            cached=c,
        )
        self.insured_visit, c = keyed(
            insured_visits, "mdtrt_id", select(insured_visits).where(_key(insured_visits, "node", "mdtrt_id"))
        )
        self.new_insured_visit = prepare(insured_visits.insert(), cached=c)
        self.set_insured_visit = prepare(
            update(insured_visits)
            .where(_key(insured_visits, "node", "mdtrt_id"))
            .values(state=bindparam("state")),
            cached=c,
        )
        self.insured_book = prepare(insured_settlements.insert(), held=True)
        at = _key(insured_settlements, "node", "msgid")
        self.insured_settlement = prepare(select(insured_settlements).where(at))
        self.insured_in_force = prepare(
            select(insured_settlements).where(_key(insured_settlements, "node", "setl_id", "kind", "status"))
        )
        self.set_insured_settlement = prepare(
            update(insured_settlements).where(at).values(status=bindparam("status"))
        )
        self.national = prepare(hub_records.insert(), held=True)
        self.hub_record = prepare(select(hub_records).where(hub_records.c.msgid == _k("msgid")))
        self.set_hub_record = prepare(
            update(hub_records).where(hub_records.c.msgid == _k("msgid")).values(status=bindparam("status"))
        )
        # the hub's prepayment funds (clearing.py): a fund read and moved for every cross-province settlement
        at = _key(prepayments, "insured", "treatment")
        self.fund, c = keyed(
            prepayments,
            ("insured", "treatment"),
            select(prepayments.c.size, prepayments.c.balance, prepayments.c.alert).where(at),
        )
        self.set_fund = prepare(
            update(prepayments).where(at).values(balance=bindparam("balance"), alert=bindparam("alert")),
            cached=c,
        )
        self.fund_moved = prepare(
            prepayment_moves.insert().values(
                {c.key: bindparam(c.key) for c in prepayment_moves.c if c.key != "id"}  # id: the database's
            ),
            held=True,
        )
