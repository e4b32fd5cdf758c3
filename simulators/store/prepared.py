"""Statements compiled once and run straight on the DB-API cursor (:class:`Prepared`), the rows they read
(:class:`Record`), and JSON as the store writes it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any, Protocol

import orjson
from sqlalchemy import JSON, Boolean, Connection, DateTime, Engine

from ...specs.envelope import THREE_DIGITS, datetime_text

Written = Callable[..., None]  # logs a change for redo: (conn, sql, parameters, rows[, executemany])


class Holder(Protocol):
    """Where rows inserted are held to be sent together (GroupCommit on PostgreSQL)."""

    held_tables: set[str]  # the tables with rows held, not yet sent

    def hold(self, conn: Connection, insert: Prepared, rows: list[Any]) -> bool: ...

    def release(self, conn: Connection) -> None: ...


def json_text(value: Any) -> str:
    """JSON as the store writes it, through SQLAlchemy (the engine's serializer) and prepared statements."""
    return orjson.dumps(value).decode()


def from_json(value: Any) -> Any:
    # SQLite's column affinity hands a bare JSON number back already as a number
    return orjson.loads(value) if isinstance(value, str | bytes) else value


class Prepared:
    """A Core statement compiled once for the engine's dialect and executed on the DB-API cursor.

    SQLAlchemy builds, caches and executes a statement in tens of microseconds, most of a simulated
    message's budget; the hot path compiles each statement once here instead. Types still convert as
    SQLAlchemy's own (bind and result processors of each column type), so SQLite and PostgreSQL
    behave alike. Runs inside the caller's transaction, on the cursor ``cursor_for`` gives for its
    connection; each call consumes its result before it returns, so calls can share a cursor.
    """

    def __init__(
        self,
        engine: Engine,
        statement: Any,
        cursor_for: Callable[[Connection], Any],
        written: Written,
        settle: Callable[[Connection], None] | None = None,
        cached: Any = None,
        holder: Holder | None = None,
        held: bool = False,
    ) -> None:
        self.cursor_for = cursor_for
        # held (an INSERT nothing reads back in its batch): a row is kept by ``holder`` and sent with others
        self.holder = holder
        self.hold = holder.hold if held and holder is not None else None
        # rows.Cached: the table's rows kept in memory, read from it (a select) or kept exact (a change)
        self.cached = cached
        self.sqlite = engine.dialect.name == "sqlite"
        self.kind = next(k for k in ("select", "insert", "update", "delete") if getattr(statement, f"is_{k}"))
        self.written = None if statement.is_select else written  # a change is logged for redo
        # a change whose caller needs the rows it touched (a version-checked update): on a pipelined
        # connection (PostgreSQL's batch, see commit.py) its result is waited for; other changes are not
        self.settle = settle
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.table = statement.table.name if self.kind == "insert" else ""
        self.words = frozenset(re.findall(r"\w+", self.sql))  # the tables it names among them
        binds = compiled.binds
        self.positional = dialect.paramstyle in ("qmark", "numeric", "format")
        self.names: list[str] = list(compiled.positiontup or []) if self.positional else list(binds)
        binders = {n: _binder(binds[n].type, dialect) for n in set(self.names)}
        keys = range(len(self.names)) if self.positional else self.names  # where each value goes
        self.converts = [(k, binders[n]) for k, n in zip(keys, self.names, strict=True) if binders[n]]
        names = self.names  # itemgetter picks in C, but gives a bare value for one name
        self.pick = itemgetter(*names) if len(names) > 1 else lambda values: [values[n] for n in names]
        # PostgreSQL, a version-checked update of a row kept in memory at the version it names (rows.py):
        # the same update as a statement that fails on the server when it changes no row (another process
        # changed the row), sent without waiting for its count; the batch then commits nothing
        self.asserting = (
            f"WITH changed AS ({self.sql} RETURNING 1) SELECT 1 / count(*) FROM changed"  # 0 rows: an error
            if settle is not None and self.kind == "update" and dialect.name == "postgresql"
            else None
        )
        key = cached.key if cached is not None else ()
        self.checked = [n[2:] for n in self.names if n.startswith("k_") and n[2:] not in key]
        columns = getattr(statement, "selected_columns", None) or ()
        self.columns = [c.key for c in columns]
        self.readers = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]

    def _params(self, values: dict[str, Any]) -> Any:
        params: Any = list(self.pick(values)) if self.positional else {n: values[n] for n in self.names}
        for k, convert in self.converts:
            params[k] = convert(params[k])
        return params

    def _release(self, conn: Connection) -> None:
        """Send the rows held of a table this statement names, first."""
        holder = self.holder
        if holder is not None and holder.held_tables and not holder.held_tables.isdisjoint(self.words):
            holder.release(conn)

    def _execute(self, conn: Connection, values: dict[str, Any]) -> Any:
        self._release(conn)
        params = self._params(values)
        cursor = self.cursor_for(conn)
        cursor.execute(self.sql, params)
        if self.written:
            if self.settle is not None and cursor.rowcount < 0:
                self.settle(conn)
            self.written(conn, self.sql, params, cursor.rowcount)
        return cursor

    def run(self, conn: Connection, **values: Any) -> int:
        """Execute a change; the number of rows it touched (a row held: 1)."""
        if self.hold is not None and self.hold(conn, self, [self._params(values)]):
            return 1
        cached = self.cached
        if self.asserting is not None and cached is not None and cached.holds(conn, values, self.checked):
            self._release(conn)
            params = self._params(values)
            self.cursor_for(conn).execute(self.asserting, params)
            self.written(conn, self.asserting, params, -1)  # type: ignore[misc]
            cached.updated(conn, values, 1)
            return 1
        rows = int(self._execute(conn, values).rowcount)
        if cached is not None:
            if self.kind == "insert":
                cached.inserted(conn, values)
            elif self.kind == "update":
                cached.updated(conn, values, rows)
            else:
                cached.deleted(conn, values)
        return rows

    def run_many(self, conn: Connection, rows: list[dict[str, Any]], redo: bool = False) -> None:
        """Execute a change once for each of ``rows``, in one call to the driver; logged for redo only if
        ``redo`` (a unit's writes are; those a batch makes as it commits, GroupCommit.behind, are not)."""
        params = [self._params(values) for values in rows]
        if self.hold is not None and self.hold(conn, self, params):
            return
        self._release(conn)
        cursor = self.cursor_for(conn)
        if self.kind == "insert" and not self.positional and len(params) > 1:
            self._insert_many(conn, cursor, params, redo)
            return
        cursor.executemany(self.sql, params)
        if redo and self.written is not None:  # rows counted on SQLite (its check of the log), not PostgreSQL
            self.written(conn, self.sql, params, cursor.rowcount if self.sqlite else -1, True)

    def send(self, conn: Connection, params: list[Any]) -> None:
        """Insert the rows held (their parameters), logged for redo."""
        self._insert_many(conn, self.cursor_for(conn), params, redo=True)

    # psycopg's executemany sends and reads its pipeline for each row, the cost of a statement each; an
    # INSERT of many rows goes as one statement of up to 32 rows instead (a text for each number of rows,
    # 32 at most a table), as SQLAlchemy's own "insertmanyvalues" does.

    def _insert_many(self, conn: Connection, cursor: Any, params: list[dict[str, Any]], redo: bool) -> None:
        start = 0
        while start < len(params):
            size = min(32, len(params) - start)
            sql, names = _rows_of(self.sql, size)
            values = [p[n] for p in params[start : start + size] for n in names]
            cursor.execute(sql, values)
            if redo and self.written is not None:
                self.written(conn, sql, values, -1)
            start += size

    def all(self, conn: Connection, **values: Any) -> list[Record]:
        """Every row a select answers (never from the rows kept in memory)."""
        rows = self._execute(conn, values).fetchall()
        read = list(zip(self.columns, self.readers, strict=True))
        return [Record({k: (r(v) if r else v) for (k, r), v in zip(read, row, strict=True)}) for row in rows]

    def first(self, conn: Connection, **values: Any) -> Record | None:
        cached = self.cached
        if cached is not None:
            kept = cached.get(conn, values)
            if kept is not ABSENT:
                return kept  # type: ignore[no-any-return]
        row = self._execute(conn, values).fetchone()
        if row is None:
            if cached is not None:
                cached.read(conn, values, None)
            return None
        record = Record(
            {k: (r(v) if r else v) for k, v, r in zip(self.columns, row, self.readers, strict=True)}
        )
        if cached is not None:
            cached.read(conn, values, record)
        return record


@cache
def _rows_of(insert: str, size: int) -> tuple[str, list[str]]:
    """An INSERT of one row with named parameters as one of ``size`` rows with positional ones, and the
    names in the order a row's values go."""
    head, row = insert.split(" VALUES ", 1)
    row, tail = row[: row.rindex(")") + 1], row[row.rindex(")") + 1 :]  # tail: RETURNING id, say
    names = re.findall(r"%\((\w+)\)s", row)
    row = re.sub(r"%\(\w+\)s", "%s", row)
    return f"{head} VALUES {', '.join([row] * size)}{tail}", names


ABSENT = object()  # a row not kept in memory (rows.Cached.get): ask the database


def _binder(type_: Any, dialect: Any) -> Any:
    binder = type_.dialect_impl(dialect).bind_processor(dialect)
    if dialect.name != "sqlite":
        return binder
    if isinstance(type_, JSON):  # SQLAlchemy's serializes with json_text too, after checks for its
        return json_text  # sentinels (JSON.NULL, null()), which the prepared statements never bind
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
