"""Rows the serving loop read or wrote, kept in memory so that reading them again needs no trip to the
database (:class:`Rows`, one per store, a :class:`Cached` per table).

A node lives in one process (the partition rule: every row names its node), so the rows of a node are
changed only by that process's serving loop, through the prepared statements (``store.q``); each of those
writes updates the row kept here as it updates the database. On PostgreSQL a read is a round trip the event
loop waits for (the batch's writes are pipelined, commit.py), and on SQLite a lookup costs tens of
microseconds; a row kept here costs a dictionary lookup and a JSON parse.

Kept exact by these rules:

- only the serving loop's batch uses it: a read elsewhere goes to the database, a write elsewhere (or a
  change SQLAlchemy runs, not a prepared statement) drops the whole table's rows;
- every change of what is kept during a batch is logged with what was kept before; a unit that fails puts
  back what was kept before it; a batch that fails drops everything kept (its cause may be a row another
  process changed);
- a version-checked update that touched no row (another process changed it: the partition rule broken, or
  a tool) drops the row, and the caller answers E6005 as before; on PostgreSQL one of a row kept at the
  version it names is sent without waiting, and fails on the server instead, so the batch commits nothing
  (prepared.py, ``asserting``);
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
    some of ``columns``. A node whose rows are all kept (:meth:`preload`) is ``complete``: a key of it
    not kept has no row, and reading it asks nothing.
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
        self.complete: set[Any] = set()  # the first key column's values (nodes) whose rows are all kept
        self.generation = 0  # moved on by clear(): older entries of the log no longer apply
        rows.tables[table] = self

    def _frozen(self, values: Mapping[str, Any], columns: Iterable[str]) -> dict[str, Any]:
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
            return None if key[0] in self.complete else ABSENT
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
            self._set(self._at(values), None if record is None else self._frozen(record, self.columns))

    def inserted(self, conn: Connection, values: dict[str, Any]) -> None:
        if self.rows.on(conn):
            self._set(tuple(values[c] for c in self.key), self._frozen(values, self.columns))
        else:
            self.clear()

    def updated(self, conn: Connection, values: dict[str, Any], rows: int) -> None:
        """An update of some columns at the key; ``rows``: how many it touched (-1: not counted)."""
        if not self.rows.on(conn):
            self.clear()
            return
        key = self._at(values)
        row = self.kept.get(key)
        if row is None:  # not kept, or kept as missing: the update changed nothing kept
            return
        if rows == 0:  # changed by another process: not known any more
            self.complete.discard(key[0])
            self._set(key, ABSENT)
            return
        self._set(key, {**row, **self._frozen(values, (c for c in self.columns if c in values))})

    def deleted(self, conn: Connection, values: dict[str, Any]) -> None:
        if self.rows.on(conn):
            self._set(self._at(values), None)
        else:
            self.clear()

    def _set(self, key: Key, row: Any) -> None:
        """Keep ``row`` at ``key`` (``ABSENT``: keep nothing), logged with what was kept before."""
        kept = self.kept
        self.rows.log.append((self, self.generation, key, kept.get(key, ABSENT)))
        if row is ABSENT:
            kept.pop(key, None)
        else:
            kept[key] = row

    def _restore(self, generation: int, key: Key, before: Any) -> None:
        if generation != self.generation:
            return
        if before is ABSENT:
            self.kept.pop(key, None)
        else:
            self.kept[key] = before

    def clear(self) -> None:
        """Nothing kept: a change not made through :meth:`inserted` and the like (another connection's, or
        one SQLAlchemy ran), so the rows are no longer known."""
        self.kept.clear()
        self.complete.clear()
        self.generation += 1

    def made_elsewhere(self) -> None:
        """Rows inserted not through :meth:`inserted` (SQLAlchemy's insert, a node's first start): an insert
        changes no row there was, so only what was known to be missing is no longer known."""
        self.complete.clear()
        for key in [key for key, row in self.kept.items() if row is None]:
            del self.kept[key]
        log = self.rows.log  # and a failed unit must not put back "missing" either
        for i, (cached, generation, key, before) in enumerate(log):
            if cached is self and before is None:
                log[i] = (cached, generation, key, ABSENT)

    def preload(self, rows: Iterable[Any], complete: Any = None) -> None:
        """Keep committed rows read at start (``columns`` and the key's columns), before any batch, and if
        ``complete`` is given, all of that node's rows: a key of it not kept then has no row."""
        for row in rows:
            self.kept[tuple(row[c] for c in self.key)] = self._frozen(row, self.columns)
        if complete is not None:
            self.complete.add(complete)


class Rows:
    """The rows kept per table, and the log of what the open batch changed in them (see the module)."""

    def __init__(self, on: Callable[[Connection], bool]) -> None:
        self.on = on  # whether a connection is the serving loop's batch
        self.tables: dict[str, Cached] = {}
        self.log: list[tuple[Cached, int, Key, Any]] = []  # table, its generation, key, what was kept before

    def mark(self) -> int:
        """Where a unit begins in the log."""
        return len(self.log)

    def forget(self, since: int = 0) -> None:
        """Put back what was kept before ``since`` in the log: the writes after it were taken back (the
        log's entries are undone last first, so each key gets what it had before the first of them)."""
        for cached, generation, key, before in reversed(self.log[since:]):
            cached._restore(generation, key, before)
        del self.log[since:]

    def keep(self) -> None:
        """The batch committed: what is kept is the database's."""
        self.log.clear()

    def changed(self, table: str, insert: bool = False) -> None:
        """A change not made through a prepared statement: the table's rows are no longer known (an
        insert's: only those known to be missing)."""
        cached = self.tables.get(table)
        if cached is not None:
            (cached.made_elsewhere if insert else cached.clear)()

    def clear(self) -> None:
        for cached in self.tables.values():
            cached.clear()
        self.log.clear()
