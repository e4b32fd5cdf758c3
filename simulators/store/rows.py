"""Rows the serving loop read or wrote, kept in memory so that reading them again needs no trip to the
database (:class:`Rows`, one per store, a :class:`Cached` per table).

A node lives in one process (the partition rule: every row names its node), so the rows of a node are
changed only by that process's serving loop, through the prepared statements (``store.q``); each of those
writes updates the row kept here as it updates the database. On PostgreSQL a read is a round trip the event
loop waits for (the batch's writes are pipelined, commit.py), and on SQLite a lookup costs tens of
microseconds; a row kept here costs a dictionary lookup and a JSON parse.

Kept exact by four rules:

- only the serving loop's batch uses it: a read elsewhere goes to the database, a write elsewhere drops
  the row (and a change SQLAlchemy runs, not a prepared statement, drops its whole table);
- every row kept during a batch is logged; a unit that fails drops the rows it kept, a batch that fails
  drops every row it kept (the database took them back; dropping is always safe: the next read asks it);
- a version-checked update that touched no row (another process changed it: the partition rule broken, or
  a tool) drops the row, and the caller answers E6005 as before;
- the documents (JSON) are kept as their text and parsed for every read: callers change what they read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection

from .prepared import ABSENT, Record

Key = tuple[Any, ...]


class Cached:
    """One table's rows as its keyed read returns them (``columns``), by the columns ``key`` (its primary
    key: ``node`` and the row's id, on a node's table).

    Reads, updates and deletes name a key column ``c`` ``k_c``; inserts name it ``c``. An update sets
    some of ``columns``.
    """

    def __init__(
        self, rows: Rows, table: str, key: Iterable[str], columns: Iterable[str], json: Iterable[str]
    ) -> None:
        self.rows, self.table = rows, table
        self.key = tuple(key)
        self.k_key = tuple(f"k_{c}" for c in self.key)
        self.columns = list(columns)
        self.json = frozenset(json)
        self.kept: dict[Key, dict[str, Any] | None] = {}  # None: known to be missing
        rows.tables[table] = self

    def _frozen(self, values: dict[str, Any], columns: Iterable[str]) -> dict[str, Any]:
        json = self.json
        return {c: (orjson.dumps(values[c]) if c in json else values[c]) for c in columns}

    def _at(self, values: dict[str, Any]) -> Key:
        return tuple(values[k] for k in self.k_key)

    def get(self, conn: Connection, values: dict[str, Any]) -> Record | object | None:
        """The row at the read's key, None if it is known to be missing, or ``ABSENT``: not known."""
        if not self.rows.on(conn):
            return ABSENT
        key = self._at(values)
        if key not in self.kept:
            return ABSENT
        row = self.kept[key]
        if row is None:
            return None
        json = self.json
        return Record({c: (orjson.loads(v) if c in json else v) for c, v in row.items()})

    def holds(self, conn: Connection, values: dict[str, Any], checked: Iterable[str]) -> bool:
        """Whether the row an update names is kept, with the values of the ``checked`` columns its
        conditions name (a version-checked update's version): it then changes the row, unless another
        process changed it."""
        if not self.rows.on(conn):
            return False
        row = self.kept.get(self._at(values))
        return row is not None and all(c in row and row[c] == values[f"k_{c}"] for c in checked)

    def read(self, conn: Connection, values: dict[str, Any], record: Record | None) -> None:
        """Keep a row the database answered, or that it has none at the key (a node's rows are made by its
        own process only, so one made later is made through :meth:`inserted`)."""
        if self.rows.on(conn):
            self._keep(self._at(values), None if record is None else self._frozen(record, self.columns))

    def inserted(self, conn: Connection, values: dict[str, Any]) -> None:
        key = tuple(values[c] for c in self.key)
        if self.rows.on(conn):
            self._keep(key, self._frozen(values, self.columns))
        else:
            self.kept.pop(key, None)

    def updated(self, conn: Connection, values: dict[str, Any], rows: int) -> None:
        """An update of some columns at the key; ``rows``: how many it touched (-1: not counted)."""
        key = self._at(values)
        row = self.kept.get(key)
        if row is None:  # not kept, or kept as missing: the update changed nothing kept
            return
        if rows == 0 or not self.rows.on(conn):
            self.kept.pop(key, None)
            return
        self._keep(key, {**row, **self._frozen(values, (c for c in self.columns if c in values))})

    def deleted(self, conn: Connection, values: dict[str, Any]) -> None:
        self.kept.pop(self._at(values), None)

    def _keep(self, key: Key, row: dict[str, Any] | None) -> None:
        self.kept[key] = row
        self.rows.log.append((self.kept, key))

    def clear(self) -> None:
        self.kept.clear()

    def preload(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Keep committed rows read at start (``columns`` and the key's columns), before any batch: a node
        whose rows are all kept never reads them from the database (one owner per row: rows.py)."""
        for row in rows:
            self.kept[tuple(row[c] for c in self.key)] = self._frozen(dict(row), self.columns)


class Rows:
    """The rows kept per table, and the log of those kept during the open batch (see the module)."""

    def __init__(self, on: Callable[[Connection], bool]) -> None:
        self.on = on  # whether a connection is the serving loop's batch
        self.tables: dict[str, Cached] = {}
        self.log: list[tuple[dict[Key, Any], Key]] = []

    def mark(self) -> int:
        """Where a unit begins in the log."""
        return len(self.log)

    def forget(self, since: int = 0) -> None:
        """Drop the rows kept since ``since`` in the log: their writes were taken back."""
        for kept, key in self.log[since:]:
            kept.pop(key, None)
        del self.log[since:]

    def keep(self) -> None:
        """The batch committed: its rows are the database's."""
        self.log.clear()

    def changed(self, table: str) -> None:
        """A change not made through a prepared statement: the table's rows are no longer known."""
        cached = self.tables.get(table)
        if cached is not None:
            cached.clear()

    def clear(self) -> None:
        for cached in self.tables.values():
            cached.clear()
        self.log.clear()
