"""Where the simulators keep state: SQLite by default, PostgreSQL by URL (SQLAlchemy Core).

Every row names the node that owns it (``treatment:510000``, ``insured:500000``, ``hub``), so one
database holds a whole topology while each node still commits only its own part. Money is stored in
integer cents. SQLite runs in WAL mode with synchronous=NORMAL: a killed process (kill -9) loses
nothing it committed.

    tables     the tables, and the time-ordered keys of messages and sign-ins (TimeKey)
    commit     units of work, the group commit and its redo log, the WAL checkpoints, the rows held
    pipe       PostgreSQL's batch on libpq's pipeline mode: statements unawaited, the COMMIT too
    prepared   statements compiled once and run on the DB-API cursor
    queries    the prepared statements the nodes run for every message (Store.q)
    rows       the rows those read and write by key, kept in memory (exact: see there)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.schema import CreateIndex

from .commit import GroupCommit
from .prepared import Record, from_json, json_text
from .queries import Queries
from .tables import (
    TimeKey,
    clearings,
    details,
    files,
    hub_records,
    insured_settlements,
    insured_visits,
    message_key,
    messages,
    meta,
    nonces,
    persons,
    prepayment_alerts,
    prepayment_moves,
    prepayments,
    remote_confirmations,
    seen_persons,
    settings,
    settlements,
    signin_key,
    signins,
    visit_fees,
    visits,
)

__all__ = [
    "Record",
    "Store",
    "TimeKey",
    "clearings",
    "database_url",
    "details",
    "files",
    "hub_records",
    "insured_settlements",
    "insured_visits",
    "message_key",
    "messages",
    "meta",
    "nonces",
    "persons",
    "prepayment_alerts",
    "prepayment_moves",
    "prepayments",
    "remote_confirmations",
    "seen_persons",
    "settings",
    "settlements",
    "signin_key",
    "signins",
    "visit_fees",
    "visits",
]


def database_url(text: str) -> str:
    """A SQLAlchemy URL, or a bare file path taken as SQLite (``--db state.db``); ValueError names what is
    neither."""
    url = text if "://" in text else f"sqlite:///{text}"
    try:
        make_url(url)
    except ArgumentError:
        raise ValueError(
            f"--db {text!r} is neither a file path nor a SQLAlchemy URL (sqlite:///file.db, postgresql+psycopg://…)"
        ) from None
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MB: the hot tables outgrow the default 2 MB
    cursor.close()


class Store(GroupCommit):
    """The state at ``url``: its tables made if missing, units of work (:class:`GroupCommit`), and ``q``,
    the statements every message runs."""

    def __init__(self, url: str) -> None:
        self.url = url = database_url(url)
        engine = create_engine(url, json_serializer=json_text, json_deserializer=from_json)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        meta.create_all(engine)
        with engine.begin() as conn:  # create_all skips the indexes of a table that exists
            for index in (i for table in meta.sorted_tables for i in table.indexes):
                conn.execute(CreateIndex(index, if_not_exists=True))
        super().__init__(engine)
        holder = self if engine.dialect.name == "postgresql" else None  # SQLite: a statement costs less
        self.q = Queries(engine, self.cursor, self._written, self._settle, self.rows, holder)

    def msgids(self, node: str) -> list[str]:
        """Every msgid the node has answered."""
        with self.read() as conn:
            return list(conn.execute(select(messages.c.msgid).where(messages.c.node == node)).scalars())

    def setting(self, key: str, default: Any = None) -> Any:
        with self.read() as conn:
            value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
        return default if value is None else value

    def put_setting(self, key: str, value: Any) -> None:
        with self.begin() as conn:
            if conn.execute(select(settings.c.key).where(settings.c.key == key)).first():
                conn.execute(settings.update().where(settings.c.key == key).values(value=value))
            else:
                conn.execute(settings.insert().values(key=key, value=value))

    def close(self) -> None:
        super().close()
        self.engine.dispose()
