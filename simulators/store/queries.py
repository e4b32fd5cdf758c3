"""The named statements the nodes run for every simulated message, prepared once per store (``store.q``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, bindparam, delete, select, update

from .prepared import Prepared, Written
from .tables import (
    hub_records,
    insured_settlements,
    insured_visits,
    message_key,
    messages,
    nonces,
    persons,
    seen_persons,
    settlements,
    signin_key,
    signins,
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
    ) -> None:
        def prepare(statement: Any, counted: bool = False) -> Prepared:
            """``counted``: the caller reads the rows it changed (waited for on a pipelined batch)."""
            return Prepared(engine, statement, cursor_for, written, settle if counted else None)

        self.message = prepare(
            select(messages.c.digest, messages.c.response).where(message_key.is_(_k("node"), _k("msgid")))
        )
        # a new message is reversed by nothing: no NULL to bind (pysqlite adapts None the slow way)
        self.record = prepare(
            messages.insert().values({c.key: bindparam(c.key) for c in messages.c if c.key != "reversed_by"})
        )
        self.nonce = prepare(nonces.insert())
        self.forget = prepare(delete(messages).where(message_key.is_(_k("node"), _k("msgid"))))
        self.signin = prepare(
            select(signins.c.fixmedins_code, signins.c.signed_out).where(
                signin_key.is_(_k("node"), _k("sign_no"))
            )
        )
        self.sign_in = prepare(signins.insert())
        self.visit = prepare(select(visits).where(_key(visits, "node", "mdtrt_id")))
        self.new_visit = prepare(visits.insert())
        self.save_visit = prepare(
            update(visits)
            .where(_key(visits, "node", "mdtrt_id", "version"))
            .values(state=bindparam("state"), version=bindparam("version"), doc=bindparam("doc")),
            counted=True,
        )
        self.seen = prepare(select(seen_persons.c.doc).where(_key(seen_persons, "node", "psn_no")))
        self.unsee = prepare(delete(seen_persons).where(_key(seen_persons, "node", "psn_no")))
        self.see = prepare(seen_persons.insert())
        self.book = prepare(settlements.insert())
        self.person = prepare(select(persons.c.version, persons.c.doc).where(_key(persons, "node", "psn_no")))
        self.save_person = prepare(
            update(persons)
            .where(_key(persons, "node", "psn_no", "version"))
            .values(version=bindparam("version"), doc=bindparam("doc")),
            counted=True,
        )
        self.insured_visit = prepare(select(insured_visits).where(_key(insured_visits, "node", "mdtrt_id")))
        self.new_insured_visit = prepare(insured_visits.insert())
        self.set_insured_visit = prepare(
            update(insured_visits)
            .where(_key(insured_visits, "node", "mdtrt_id"))
            .values(state=bindparam("state"))
        )
        self.insured_book = prepare(insured_settlements.insert())
        self.national = prepare(hub_records.insert())
