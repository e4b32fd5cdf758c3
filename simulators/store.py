"""Where the simulators keep state: SQLite by default, PostgreSQL by URL (SQLAlchemy Core).

Every row names the node that owns it (``treatment:510000``, ``insured:500000``, ``hub``), so one
database holds a whole topology while each node still commits only its own part. Money is stored in
integer cents. SQLite runs in WAL mode with synchronous=NORMAL: a killed process (kill -9) loses
nothing it committed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Generator
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex

from ..specs.envelope import THREE_DIGITS, datetime_text

log = logging.getLogger("yidi.simulators")
meta = MetaData()

Redo = tuple[str, Any, bool, int]  # a write as the driver ran it: statement, parameters, executemany, rows
Written = Callable[[Connection, str, Any, int], None]


def _node(primary_key: bool = True) -> Column[str]:
    return Column("node", String(24), primary_key=primary_key, nullable=False)


class TimeKey:
    """The unique key (node, id) of a table whose ids are a prefix of ``head`` characters (the hospital's
    or the region's code) and then a timestamp, laid out in time order.

    A key led by node and prefix puts the rows of one group commit at one place per hospital, each a
    page the WAL writes again; led by the time, they share about one page. 9001 sign-ins, whose two
    rows are keyed so, run 5–8 % faster for it (interleaved A/B, 10 rounds). SQL answers from an index
    on expressions only when a query names the same expressions, so look rows up with :meth:`is_`.
    """

    def __init__(self, table: Table, column: str, head: int) -> None:
        self.node, self.id, self.head = table.c.node, table.c[column], head
        Index(f"{table.name}_by_time", *self._parts(self.id), self.node, unique=True)

    def _parts(self, value: Any) -> tuple[Any, Any]:
        # positions as literals: the index's expressions hold numbers, not parameters
        one, head, rest = (literal_column(str(n), Integer) for n in (1, self.head, self.head + 1))
        return func.substr(value, rest), func.substr(value, one, head)

    def is_(self, node: Any, id_: Any) -> ColumnElement[bool]:
        """node = node and id = id_, in the index's terms. Not with id = id_ as well: SQLite would put
        id_ for the column in the expressions, and then no longer see the index's."""
        later, first = self._parts(self.id)
        id_later, id_first = self._parts(id_)
        return and_(later == id_later, first == id_first, self.node == node)


# Idempotency and audit: every message a node answered, with its answer (R-IDEM-01).
messages = Table(
    "messages",
    meta,
    _node(primary_key=False),
    Column("msgid", String(40), nullable=False),
    Column("infno", String(8), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("sender", String(40), nullable=False),
    Column("response", JSON, nullable=False),
    Column("effect", JSON),  # what a reversal needs to undo it
    Column("reversed_by", String(40)),
    Column("sim_time", DateTime, nullable=False),
)

message_key = TimeKey(messages, "msgid", 12)  # 机构编号12位+yyyyMMddHHmmss+4位顺序号

signins = Table(
    "signins",
    meta,
    _node(primary_key=False),
    Column("sign_no", String(40), nullable=False),
    Column("fixmedins_code", String(40), nullable=False),
    Column("opter_no", String(40), nullable=False),
    Column("signed_out", Boolean, nullable=False, default=False),
    Column("sim_time", DateTime, nullable=False),
)
signin_key = TimeKey(signins, "sign_no", 6)  # the region's code, then the time

# The treatment side's visits (就诊): state, version for optimistic concurrency, and the document
# (person snapshot, fee lines, history, pending cross-province call).
visits = Table(
    "visits",
    meta,
    _node(),
    Column("mdtrt_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False, index=True),
    Column("fixmedins_code", String(40), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("kind", String(12), nullable=False),  # inpatient / outpatient
    Column("state", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("cross", Boolean, nullable=False),
    Column("doc", JSON, nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

# Persons a treatment side verified at 1101 (card read), which admission then relies on.
seen_persons = Table(
    "seen_persons",
    meta,
    _node(),
    Column("psn_no", String(40), primary_key=True),
    Column("doc", JSON, nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

# Settlements, cancellations and reversals as the treatment side booked them (one row each).
settlements = Table(
    "settlements",
    meta,
    _node(),
    Column("msgid", String(40), primary_key=True),  # the message that made the row
    Column("setl_id", String(40), nullable=False, index=True),
    Column("kind", String(12), nullable=False),  # settle / cancel / reversal
    Column("mdtrt_id", String(40), nullable=False, index=True),
    Column("psn_no", String(40), nullable=False),
    Column("fixmedins_code", String(40), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("infno", String(8), nullable=False),
    Column("medfee", BigInteger, nullable=False),  # cents
    Column("fund", BigInteger, nullable=False),
    Column("acct", BigInteger, nullable=False),
    Column("cash", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),  # active / cancelled / reversed
    Column("cross", Boolean, nullable=False),
    Column("doc", JSON, nullable=False),  # the setlinfo and setldetail answered
    Column("sim_time", DateTime, nullable=False),
)

# The insured side: one row per person it insures (year-to-date usage, account, card, filings).
persons = Table(
    "persons",
    meta,
    _node(),
    Column("psn_no", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("doc", JSON, nullable=False),
)

insured_visits = Table(
    "insured_visits",
    meta,
    _node(),
    Column("mdtrt_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False),
    Column("treatment", String(6), nullable=False),
    Column("state", String(16), nullable=False),
    Column("doc", JSON, nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

insured_settlements = Table(
    "insured_settlements",
    meta,
    _node(),
    Column("msgid", String(40), primary_key=True),
    Column("setl_id", String(40), nullable=False, index=True),
    Column("kind", String(12), nullable=False),
    Column("mdtrt_id", String(40), nullable=False),
    Column("psn_no", String(40), nullable=False),
    Column("year", Integer, nullable=False),
    Column("setting", String(12), nullable=False),
    Column("fund", BigInteger, nullable=False),
    Column("acct", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("doc", JSON, nullable=False),  # usage added, amounts answered
    Column("sim_time", DateTime, nullable=False),
)

# The hub's national record of every cross-province settlement, cancellation and reversal.
hub_records = Table(
    "hub_records",
    meta,
    _node(),
    Column("msgid", String(40), primary_key=True),
    Column("infno", String(8), nullable=False),
    Column("setl_id", String(40), nullable=False, index=True),
    Column("mdtrt_id", String(40), nullable=False),
    Column("psn_no", String(40), nullable=False),
    Column("treatment", String(6), nullable=False),
    Column("insured", String(6), nullable=False),
    Column("medfee", BigInteger, nullable=False),
    Column("fund", BigInteger, nullable=False),
    Column("acct", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("sim_time", DateTime, nullable=False),
    Column("month", String(6), index=True),  # the clearing month it is counted in (yyyyMM), once issued
)

# Money between provinces (simulators/clearing.py): each insured province's prepayment fund (预付金) at each
# treatment province, every movement of it, the alerts it raised, and the monthly clearing statements.
prepayments = Table(
    "prepayments",
    meta,
    Column("insured", String(6), primary_key=True),
    Column("treatment", String(6), primary_key=True),
    Column("size", BigInteger, nullable=False),  # as sized when opened (cents)
    Column("balance", BigInteger, nullable=False),
    Column("alert", String(12), nullable=False),  # the level last raised: '', warn, urgent, exhausted
)

prepayment_moves = Table(
    "prepayment_moves",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("insured", String(6), nullable=False),
    Column("treatment", String(6), nullable=False),
    Column("kind", String(12), nullable=False),  # open · settle · cancel · reverse · clear · topup
    Column("amount", BigInteger, nullable=False),  # cents: + into the fund, − out of it
    Column("balance", BigInteger, nullable=False),  # after the move
    Column("ref", String(40), nullable=False),  # the settlement, month or message it is for
    Column("actor", String(24), nullable=False),  # who moved it
    Column("reason", String(200), nullable=False),  # why (Chinese)
    Column("sim_time", DateTime, nullable=False),
)

prepayment_alerts = Table(
    "prepayment_alerts",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("insured", String(6), nullable=False),
    Column("treatment", String(6), nullable=False),
    Column("level", String(12), nullable=False),  # warn · urgent · exhausted
    Column("balance", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

clearings = Table(
    "clearings",
    meta,
    Column("month", String(6), primary_key=True),
    Column("insured", String(6), primary_key=True),  # pays
    Column("treatment", String(6), primary_key=True),  # receives
    Column("settlements", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),  # cents: the month's fund payments net of cancellations
    Column("state", String(12), nullable=False),  # issued · confirmed
    Column("issued_at", DateTime, nullable=False),
    Column("confirmed_at", DateTime),
)

# Monthly clearing of remote patients at the treatment place (simulators/treatment/remote.py, 3261/3262): each
# clearing row a hospital confirmed or left out, and the 3261 that did it.
remote_confirmations = Table(
    "remote_confirmations",
    meta,
    _node(),
    Column("fixmedins_code", String(40), primary_key=True),
    Column("setl_id", String(40), primary_key=True),
    Column("kind", String(12), primary_key=True),  # settle · cancel: a cancellation is a row of its own
    Column("month", String(6), nullable=False),
    Column("state", String(12), nullable=False),  # confirmed · excluded
    Column("msgid", String(40), nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

# Files hospitals uploaded (9101) and the platform made for them (3202 results), for 9102.
files = Table(
    "files",
    meta,
    _node(),
    Column("file_qury_no", String(30), primary_key=True),
    Column("fixmedins_code", String(40), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

# Item details sent after the fact (事后传明细), as the insured side received them.
details = Table(
    "details",
    meta,
    _node(),
    Column("setl_id", String(40), primary_key=True),
    Column("feedetl_sn", String(40), primary_key=True),
    Column("line", JSON, nullable=False),
)

settings = Table(
    "settings",
    meta,
    Column("key", String(40), primary_key=True),
    Column("value", JSON, nullable=False),
)


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _from_json(value: Any) -> Any:
    # SQLite's column affinity hands a bare JSON number back already as a number
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MB: the hot tables outgrow the default 2 MB
    cursor.close()


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, json_serializer=_json_text, json_deserializer=_from_json)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        meta.create_all(self.engine)
        with self.engine.begin() as conn:  # create_all skips the indexes of a table that exists
            for index in (i for table in meta.sorted_tables for i in table.indexes):
                conn.execute(CreateIndex(index, if_not_exists=True))
        self._local = threading.local()  # a connection per thread, kept: no pool round trip per unit of work
        self.q = Queries(self.engine, self.cursor, self._written)
        self._batch: Any = None  # the group-commit transaction open on the serving thread
        self._batch_conn: Connection | None = None  # the connection it is open on
        self._waiters: list[asyncio.Future[None]] = []  # answers waiting for that batch's commit
        self._redo: list[Redo] = []  # the batch's writes so far, to run again should a unit fail
        self._changes = 0  # SQLite's count of changed rows when the batch began
        self._broken: Exception | None = None  # the batch could not be rebuilt: it commits nothing
        event.listen(self.engine, "after_cursor_execute", self._written_by_sqlalchemy)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._checkpoints: threading.Event | None = None  # set: the checkpointing thread stops

    def _conn(self) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._local.conn = self.engine.connect()
            self._local.cursor = _driver(conn).cursor()
        return conn

    def cursor(self, conn: Connection) -> Any:
        """A DB-API cursor on ``conn``: the thread's own, kept with its connection, when it is that one
        (a cursor made and closed per statement costs as much as a lookup by primary key)."""
        local = self._local
        return local.cursor if conn is getattr(local, "conn", None) else _driver(conn).cursor()

    def begin(self) -> AbstractContextManager[Connection]:
        """One unit of work: its changes stand together or not at all.

        On the serving thread with group commit on, a unit is part of a batch that commits once the
        event loop comes round again, and is durable once :meth:`durable` returns; elsewhere it commits
        when the block ends. A unit never awaits, so units never interleave.
        """
        on_loop = threading.get_ident() == self._loop_thread
        if on_loop and self._batch_conn is not None:
            return _Unit(self, self._batch_conn)
        conn = self._conn()
        if not on_loop or self._loop is None:
            return _Transaction(conn)
        self._batch, self._batch_conn = conn.begin(), conn
        self._loop.call_soon(self._flush)
        if self.engine.dialect.name == "sqlite":  # else pysqlite begins only at the first write
            self._local.cursor.execute("BEGIN")
            self._changes = _driver(conn).total_changes
        return _Unit(self, conn)

    # A unit in a batch takes no savepoint: SAVEPOINT and RELEASE cost about 10,000 instructions a
    # sign-in (SQLite copies every page a unit changes before changing it), and units rarely fail.
    # Every write of the batch is logged instead (statement, parameters, rows changed); when a unit
    # fails after writing, the batch is rolled back and the writes of the units before it run again.
    # They must change the same rows as the first time, or the batch commits nothing and every answer
    # waiting for it fails, as when a commit fails.

    def _written(self, conn: Connection, sql: str, params: Any, rows: int, many: bool = False) -> None:
        if conn is self._batch_conn:
            self._redo.append((sql, params, many, rows))

    def _written_by_sqlalchemy(
        self, conn: Connection, cursor: Any, sql: str, params: Any, context: Any, many: bool
    ) -> None:
        if context is not None and (context.isinsert or context.isupdate or context.isdelete):
            self._written(conn, sql, params, cursor.rowcount, many)

    def _undo(self, conn: Connection, start: int, error: BaseException) -> None:
        """Take back the unit that began at ``start`` in the redo log and failed with ``error``."""
        wrote = len(self._redo) > start or isinstance(
            error, DBAPIError | self.engine.dialect.loaded_dbapi.Error
        )
        if not wrote or self._broken is not None:
            del self._redo[start:]
            return
        driver, cursor = _driver(conn), self._local.cursor
        sqlite = self.engine.dialect.name == "sqlite"
        try:
            if sqlite and driver.total_changes - self._changes != sum(r[3] for r in self._redo):
                raise RuntimeError("a write of this batch is not in its redo log")
            del self._redo[start:]
            driver.rollback()
            if sqlite:
                cursor.execute("BEGIN")
                self._changes = driver.total_changes
            for sql, params, many, rows in self._redo:
                (cursor.executemany if many else cursor.execute)(sql, params)
                if cursor.rowcount != rows:
                    raise RuntimeError(f"run again, {sql!r} changed {cursor.rowcount} rows, not {rows}")
        except Exception as e:
            log.exception("a batch could not be rebuilt after a unit failed; it commits nothing")
            self._broken = e

    def read(self) -> AbstractContextManager[Connection]:
        """Reads only: on the serving thread they see the open batch and need no unit of their own."""
        if self._batch is not None and threading.get_ident() == self._loop_thread:
            return nullcontext(self._conn())
        return self.begin()

    def group_commit(self, loop: asyncio.AbstractEventLoop) -> None:
        """Batch the commits of the units run on this thread (the serving event loop's): one commit
        then serves every message that arrived meanwhile."""
        self._loop, self._loop_thread = loop, threading.get_ident()
        if self.engine.dialect.name == "sqlite" and self._checkpoints is None:
            # A checkpoint copies the WAL into the database file and syncs it: a commit that crosses
            # the WAL's limit pays hundreds of µs for it, most of a batch's cost. The serving
            # connection leaves that to a thread of its own, off the event loop, every 2 s: a page
            # written many times meanwhile is copied once (every 0.5 s cost 5 % more CPU a message).
            _driver(self._conn()).execute("PRAGMA wal_autocheckpoint=0")
            self._checkpoints = threading.Event()
            threading.Thread(target=self._checkpoint, args=(self._checkpoints,), daemon=True).start()

    def _checkpoint(self, stop: threading.Event, every: float = 2.0) -> None:
        connection = self.engine.raw_connection()
        try:
            while not stop.wait(every):
                try:
                    connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
                except Exception:  # a busy or failing checkpoint is tried again; the WAL keeps all
                    log.exception("WAL checkpoint failed")
        finally:
            connection.close()

    def durable(self) -> Awaitable[None]:
        """Await it to wait until every unit run so far on the serving thread is committed. Await it
        before an answer, or a call to another process, leaves. (Not a coroutine: one per message.)"""
        if self._batch is not None and threading.get_ident() == self._loop_thread:
            waiter = self._loop.create_future()  # type: ignore[union-attr]
            self._waiters.append(waiter)  # one each: a cancelled answer cancels no other
            return waiter
        return _COMMITTED

    def _flush(self) -> None:
        batch, self._batch, self._batch_conn = self._batch, None, None
        waiters, self._waiters = self._waiters, []
        failure, self._broken = self._broken, None
        self._redo.clear()
        if batch is None:
            return
        try:
            if failure is not None:
                raise failure
            batch.commit()
        except Exception as e:  # nothing of the batch is durable: every waiter fails
            batch.rollback()
            failure = e
        for waiter in (w for w in waiters if not w.done()):
            if failure is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(failure)

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
        if self._checkpoints is not None:
            self._checkpoints.set()
        self._flush()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self.engine.dispose()


class _Committed:
    """Awaited, returns at once: nothing is waiting for a commit."""

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]


_COMMITTED = _Committed()


def _driver(conn: Connection) -> Any:
    """The DB-API connection under a SQLAlchemy one: the hot path's statements run on it directly."""
    return conn.connection.dbapi_connection


class _Transaction:
    """A unit off the serving loop: a transaction of its own."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.transaction = conn, conn.begin()

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if kind is None:
            self.transaction.commit()
        else:
            self.transaction.rollback()


class _Unit:
    """A unit in the serving loop's batch (a class, not a generator: a generator costs more than the
    unit). A failure takes back its writes: :meth:`Store._undo`."""

    __slots__ = ("conn", "start", "store")

    def __init__(self, store: Store, conn: Connection) -> None:
        self.store, self.conn, self.start = store, conn, len(store._redo)

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if error is not None:
            self.store._undo(self.conn, self.start, error)


class Prepared:
    """A Core statement compiled once for the engine's dialect and executed on the DB-API cursor.

    SQLAlchemy builds, caches and executes a statement in tens of microseconds, most of a simulated
    message's budget; the hot path compiles each statement once here instead. Types still convert as
    SQLAlchemy's own (bind and result processors of each column type), so SQLite and PostgreSQL
    behave alike. Runs inside the caller's transaction, on the cursor ``cursor_for`` gives for its
    connection; each call consumes its result before it returns, so calls can share a cursor.
    """

    def __init__(
        self, engine: Engine, statement: Any, cursor_for: Callable[[Connection], Any], written: Written
    ) -> None:
        self.cursor_for = cursor_for
        self.written = None if statement.is_select else written  # a change is logged for redo
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        binds = compiled.binds
        self.positional = dialect.paramstyle in ("qmark", "numeric", "format")
        self.names: list[str] = list(compiled.positiontup or []) if self.positional else list(binds)
        binders = {n: _binder(binds[n].type, dialect) for n in set(self.names)}
        keys = range(len(self.names)) if self.positional else self.names  # where each value goes
        self.converts = [(k, binders[n]) for k, n in zip(keys, self.names, strict=True) if binders[n]]
        names = self.names  # itemgetter picks in C, but gives a bare value for one name
        self.pick = itemgetter(*names) if len(names) > 1 else lambda values: [values[n] for n in names]
        columns = getattr(statement, "selected_columns", None) or ()
        self.columns = [c.key for c in columns]
        self.readers = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]

    def _execute(self, conn: Connection, values: dict[str, Any]) -> Any:
        params: Any = list(self.pick(values)) if self.positional else {n: values[n] for n in self.names}
        for k, convert in self.converts:
            params[k] = convert(params[k])
        cursor = self.cursor_for(conn)
        cursor.execute(self.sql, params)
        if self.written:
            self.written(conn, self.sql, params, cursor.rowcount)
        return cursor

    def run(self, conn: Connection, **values: Any) -> int:
        """Execute a change; the number of rows it touched."""
        return int(self._execute(conn, values).rowcount)

    def first(self, conn: Connection, **values: Any) -> Record | None:
        row = self._execute(conn, values).fetchone()
        if row is None:
            return None
        return Record(
            {k: (r(v) if r else v) for k, v, r in zip(self.columns, row, self.readers, strict=True)}
        )


def _binder(type_: Any, dialect: Any) -> Any:
    binder = type_.dialect_impl(dialect).bind_processor(dialect)
    if dialect.name != "sqlite":
        return binder
    if isinstance(type_, JSON):  # SQLAlchemy's serializes with _json_text too, after checks for its
        return _json_text  # sentinels (JSON.NULL, null()), which the prepared statements never bind
    if isinstance(type_, Boolean):  # None, False, True (and 0, 1, which hash alike); else KeyError; in C
        return _BOOLEANS.__getitem__
    if not isinstance(type_, DateTime):
        return binder

    def sqlite_datetime(value: Any) -> Any:  # SQLAlchemy's text: the envelope's, and microseconds
        seen, text = _last_datetime[0]
        if value is seen:
            return text
        if value.__class__ is datetime and value.tzinfo is None and value.year >= 1000:
            us = value.microsecond
            text = f"{datetime_text(value)}.{THREE_DIGITS[us // 1000]}{THREE_DIGITS[us % 1000]}"
            _last_datetime[0] = value, text
            return text
        return binder(value)

    return sqlite_datetime


_BOOLEANS: dict[Any, Any] = {False: 0, True: 1, None: None}  # 0 and 1 hash as False and True

# the last datetime written and its text: a message stamps each of its rows with the same moment
_last_datetime: list[tuple[Any, str]] = [(None, "")]


class Record(dict[str, Any]):
    """A row as a mapping that also reads as attributes (row.state), like SQLAlchemy's rows."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _k(column: str) -> Any:
    return bindparam(f"k_{column}")


def _key(table: Table, *columns: str) -> Any:
    return and_(*(table.c[c] == _k(c) for c in columns))


class Queries:
    """The statements every simulated message runs, prepared once per store."""

    def __init__(self, engine: Engine, cursor_for: Callable[[Connection], Any], written: Written) -> None:
        def prepare(statement: Any) -> Prepared:
            return Prepared(engine, statement, cursor_for, written)

        self.message = prepare(
            select(messages.c.digest, messages.c.response).where(message_key.is_(_k("node"), _k("msgid")))
        )
        # a new message is reversed by nothing: no NULL to bind (pysqlite adapts None the slow way)
        self.record = prepare(
            messages.insert().values({c.key: bindparam(c.key) for c in messages.c if c.key != "reversed_by"})
        )
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
            .values(state=bindparam("state"), version=bindparam("version"), doc=bindparam("doc"))
        )
        self.seen = prepare(select(seen_persons.c.doc).where(_key(seen_persons, "node", "psn_no")))
        self.unsee = prepare(delete(seen_persons).where(_key(seen_persons, "node", "psn_no")))
        self.see = prepare(seen_persons.insert())
        self.book = prepare(settlements.insert())
        self.person = prepare(select(persons.c.version, persons.c.doc).where(_key(persons, "node", "psn_no")))
        self.save_person = prepare(
            update(persons)
            .where(_key(persons, "node", "psn_no", "version"))
            .values(version=bindparam("version"), doc=bindparam("doc"))
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
