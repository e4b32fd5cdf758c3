"""PostgreSQL's group-commit batch on libpq's pipeline mode, driven through psycopg's ``pq`` layer.

psycopg's own pipeline costs 15–55 µs of Python for every statement (its generators, a poll and a
socket write each), about as much as the rest of a message's work on a row, and a settlement sends about
thirty. :class:`Pipe` sends a statement in a few µs: values dumped and rows loaded by psycopg's own
adapters (its ``Transformer``, in C), each statement prepared on the server once, nothing read back
until a caller needs it. It stands in for the batch's DB-API cursor (``execute``, ``fetchone``,
``rowcount``), so the prepared statements and the redo log see no difference. A batch's COMMIT is not
waited for: its answer is read when it arrives (:meth:`Pipe.readable`, the event loop watching the
socket) or by the next read, and handed to the batch's callback.
"""

from __future__ import annotations

import itertools
import re
import select
from collections import deque
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer

_TUPLES_OK, _COMMAND_OK, _FATAL = pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK, pq.ExecStatus.FATAL_ERROR
# statements written to the socket together: a send on the loopback costs as much as the rest of a
# statement's sending, and the server had better start on them before the batch's COMMIT
FLUSH_EVERY = 8

Done = Callable[[BaseException | None], None]  # told a COMMIT's outcome: None, or why nothing was committed


class _Sync:
    """The end of a run of statements: an error skips the rest of the run, and is answered at its end."""


class _Commit:
    def __init__(self, done: Done) -> None:
        self.done = done


SYNC = _Sync()


class Pipe:
    """The batch connection's statements, sent without waiting; read back only when a caller asks
    (:meth:`fetchone`, :meth:`settle`), every statement before then read with it and the first that
    failed raised. Enters pipeline mode at its first statement, beginning a transaction if none is open;
    :meth:`close` leaves it so that psycopg can use the connection again."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver  # the psycopg connection
        self.pg = driver.pgconn
        self.socket = self.pg.socket
        self.adapt = Transformer(driver)
        self.piping = False  # in pipeline mode
        self.begun = False  # a transaction is open for the batch (BEGIN sent, or psycopg's found open)
        self.ended = False  # the last transaction's COMMIT is sent: the next batch begins its own
        # per statement sent and not read, in order: None, a PREPARE (its name), a COMMIT (whom to tell)
        # or SYNC
        self.sent: deque[Any] = deque()
        self.unflushed = 0
        self.committing = 0  # COMMITs sent and not answered
        self.failure: BaseException | None = None  # the first failure of the run being read
        self.synced: BaseException | None = None  # the failure of the run last read to its end
        self.told = False  # the run being read ended in a COMMIT, whose batch is told its failure
        self.names = itertools.count()
        # SQL -> the server's name for it, the names of its values in order (None: positional), their formats
        self.prepared: dict[str, tuple[bytes, list[str] | None, list[PyFormat]]] = {}
        self.last: Any = None  # the result of the last statement read
        self.rowcount = -1  # the DB-API's: the rows the last statement changed, -1 until it is read

    def execute(self, sql: str, params: Any = None) -> None:
        pg = self.pg
        if not self.begun:
            self._begin()
        named = self.prepared.get(sql)
        if named is None:
            query, names, count = _numbered(sql)
            named = self.prepared[sql] = (f"yidi_{next(self.names)}".encode(), names, [PyFormat.TEXT] * count)
            pg.send_prepare(named[0], query)
            self.sent.append(named[0])
        name, names, formats = named
        values = [params[n] for n in names] if names is not None else params or ()
        pg.send_query_prepared(name, self.adapt.dump_sequence(values, formats))
        self.sent.append(None)
        self.rowcount = -1
        self.unflushed += 1
        if self.unflushed == FLUSH_EVERY:  # the server works on them meanwhile (a full socket: _flush())
            self.unflushed = 0
            pg.flush()

    def executemany(self, sql: str, rows: Sequence[Any]) -> None:
        for params in rows:
            self.execute(sql, params)

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        self.settle()
        result = self.last
        if result is None or result.status != _TUPLES_OK:
            return []
        self.adapt.set_pgresult(result)
        return self.adapt.load_rows(0, result.ntuples, tuple)

    def settle(self) -> None:
        """Read every statement sent: raises the first of the last run that failed (the rest were
        skipped). COMMITs read on the way are told their outcome."""
        if not self.sent:
            return
        if self.sent[-1] is not SYNC:
            self._sync()
        while self.sent:
            self._read(block=True)
        failure, self.synced = self.synced, None
        if failure is not None:
            raise failure
        count = self.last.command_tuples if self.last is not None else None
        self.rowcount = -1 if count is None else count

    def commit(self, done: Done) -> None:
        """Send the COMMIT of the open transaction, not waiting: ``done`` is told its outcome when it is
        read (PostgreSQL answers the COMMIT of a failed transaction with ROLLBACK, and no error)."""
        self._send(b"COMMIT", _Commit(done))
        self.committing += 1
        self.begun, self.ended = False, True
        self._sync()
        self._drain()  # what arrived meanwhile may wait in libpq's buffer, where the loop does not look

    def wait_commits(self) -> None:
        """Wait until every COMMIT sent is answered (and its batch told)."""
        while self.committing:
            self._read(block=True)
        self._drain()

    def readable(self) -> None:
        """The socket has data (the event loop's reader): read what has arrived, not waiting for more."""
        try:
            self.pg.consume_input()
        except Exception as e:
            self._lost(e)
            raise
        self._drain()

    def close(self) -> None:
        """Read everything sent and leave pipeline mode (raises what failed, having left it)."""
        try:
            self.settle()
        finally:
            self.sent.clear()
            self.begun = self.ended = False
            if self.piping:
                self.piping = False
                self.pg.exit_pipeline_mode()

    def _drain(self) -> None:
        while self.sent and self._read(block=False):
            pass

    def _begin(self) -> None:
        if not self.piping:
            self.pg.enter_pipeline_mode()
            self.piping = True
        if self.ended or self.pg.transaction_status == pq.TransactionStatus.IDLE:  # else psycopg's is open
            self._send(b"BEGIN")
        self.begun, self.ended = True, False

    def _send(self, command: bytes, entry: Any = None) -> None:
        self.pg.send_query_params(command, None)
        self.sent.append(entry)

    def _sync(self) -> None:
        pg = self.pg
        pg.pipeline_sync()
        self.sent.append(SYNC)
        self.unflushed = 0
        while pg.flush():  # its socket full: read while waiting, or the server stops reading ours
            readable, _, _ = select.select([self.socket], [self.socket], [])
            if readable:
                pg.consume_input()

    def _read(self, block: bool) -> bool:
        """Read the result of the oldest statement sent (False: it has not arrived, and not ``block``)."""
        pg = self.pg
        try:
            while pg.is_busy():
                if not block:
                    return False
                select.select([self.socket], [], [])
                pg.consume_input()
            result = pg.get_result()
        except Exception as e:
            self._lost(e)
            raise
        entry = self.sent.popleft()
        if entry is SYNC:  # its result: PIPELINE_SYNC
            self.synced = None if self.told else self.failure  # a COMMIT's run has told its batch
            self.failure, self.told = None, False
            return True
        pg.get_result()  # the end of the statement's results (None): at hand once its result is
        status = result.status
        if status == _FATAL and self.failure is None:
            self.failure = errors.error_from_result(result, encoding=self.driver.info.encoding)
        if entry.__class__ is bytes and status != _COMMAND_OK:
            self._forget(entry)  # failed, or skipped after a failure: prepared again next time
        elif entry.__class__ is _Commit:
            self.committing, self.told = self.committing - 1, True
            failure = self.failure
            if failure is None and result.command_status != b"COMMIT":
                failure = RuntimeError("the batch's transaction failed: nothing of it is committed")
            entry.done(failure)
        self.last = result
        return True

    def _lost(self, error: BaseException) -> None:
        """The connection is lost: nothing sent will be answered, and every COMMIT on its way failed."""
        commits = [entry for entry in self.sent if entry.__class__ is _Commit]
        self.sent.clear()
        self.committing, self.failure = 0, None
        for commit in commits:
            commit.done(error)

    def _forget(self, name: bytes) -> None:
        self.prepared = {sql: named for sql, named in self.prepared.items() if named[0] != name}


@cache
def _numbered(sql: str) -> tuple[bytes, list[str] | None, int]:
    """A statement in psycopg's placeholders (``%(name)s`` or ``%s``) in the server's (``$1``), the names
    in the order of their numbers (None: positional), and how many values it takes."""
    names: list[str] = []
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        if name is None:
            count += 1
            return f"${count}"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    query = re.sub(r"%%|%\((\w+)\)s|%s", number, sql)
    return query.encode(), (names if not count else None), count or len(names)
