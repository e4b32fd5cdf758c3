"""Units of work on a connection kept per thread, and on the serving event loop the group commit: the units
run meanwhile share one batch and one commit, a redo log of the batch's writes standing in for a savepoint
per unit, and a thread of its own checkpoints SQLite's WAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Generator
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError

from .rows import Rows

if TYPE_CHECKING:
    from .pipe import Pipe

log = logging.getLogger("yidi.simulators")

Redo = tuple[str, Any, bool, int]  # a write as the driver ran it: statement, parameters, executemany, rows


class GroupCommit:
    """Units of work on ``engine`` (:meth:`begin`, :meth:`read`), committed in batches on the serving
    thread once :meth:`group_commit` names its loop; :meth:`durable` waits for a batch's commit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()  # a connection per thread, kept: no pool round trip per unit of work
        self._batch: Any = None  # the group-commit transaction open on the serving thread
        self._batch_conn: Connection | None = None  # the connection it is open on
        self._waiters: list[asyncio.Future[None]] = []  # answers waiting for that batch's commit
        self._redo: list[Redo] = []  # the batch's writes so far, to run again should a unit fail
        self._changes = 0  # SQLite's count of changed rows when the batch began
        self._broken: Exception | None = None  # the batch could not be rebuilt: it commits nothing
        self._behind: list[Callable[[Connection], None]] = []  # writes the batch makes just before it commits
        self._if_lost: list[Callable[[], None]] = []  # what to forget should the open batch commit nothing
        self._pipeline: Pipe | None = None  # PostgreSQL: the batch connection's statements, sent unawaited
        self._unclean = False  # a batch failed: roll back what it left before the next one begins
        self._watched: tuple[asyncio.AbstractEventLoop | None, Pipe | None] = (None, None)  # who reads it
        self._held: list[tuple[Any, Any]] = []  # PostgreSQL: rows inserted by the batch, sent together
        self._held_sent = 0  # how many of them are sent
        self.held_tables: set[str] = set()  # the tables of the rows held and not yet sent
        event.listen(self.engine, "after_cursor_execute", self._written_by_sqlalchemy)
        if self.engine.dialect.name == "postgresql":
            event.listen(self.engine, "before_cursor_execute", self._before_sqlalchemy)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._checkpoints: threading.Event | None = None  # set: the checkpointing thread stops
        # rows read or written by the batches, kept in memory (rows.py): only the batch's connection uses
        # them; a failed unit puts back what it changed there, a failed batch drops them all
        self.rows = Rows(lambda conn: conn is self._batch_conn)

    def _conn(self) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._local.conn = self.engine.connect()
            self._local.cursor = _driver(conn).cursor()
        return conn

    def cursor(self, conn: Connection) -> Any:
        """A DB-API cursor on ``conn``: the thread's own, kept with its connection, when it is that one
        (a cursor made and closed per statement costs as much as a lookup by primary key)."""
        if conn is self._batch_conn and self._pipeline is not None:
            return self._pipeline
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
        if not on_loop or self._loop is None:
            return _Transaction(self._conn())
        return _Unit(self, self._open_batch())

    def _open_batch(self) -> Connection:
        conn = self._conn()
        self._batch_conn = conn
        self._loop.call_soon(self._flush)  # type: ignore[union-attr]
        if self.engine.dialect.name == "postgresql":  # its transaction is the pipe's (pipe.py)
            if self._unclean:  # a batch failed: roll back what it left, or connect again
                self._unclean = False
                if not self._rolled_back(conn):
                    conn = self._batch_conn = self._conn()
            self._batch = _PIPELINED
            self._pipe(conn)
            return conn
        self._batch = conn.begin()
        if self.engine.dialect.name == "sqlite":  # else pysqlite begins only at the first write
            self._local.cursor.execute("BEGIN")
            self._changes = _driver(conn).total_changes
        return conn

    def _pipe(self, conn: Connection) -> None:
        """The batch connection's pipe, the event loop watching its socket for the COMMITs' answers."""
        driver, pipe, loop = _driver(conn), self._pipeline, self._loop
        if pipe is None or pipe.driver is not driver:
            from .pipe import Pipe  # psycopg: installed with PostgreSQL's extra

            pipe = self._pipeline = Pipe(driver)
        if self._watched != (loop, pipe):  # (a new connection's socket may have the lost one's number)
            self._unwatch()
            loop.add_reader(pipe.socket, self._readable)  # type: ignore[union-attr]
            self._watched = (loop, pipe)

    def _rolled_back(self, conn: Connection) -> bool:
        """Roll back what a failed batch left on ``conn``; False if that failed too: the connection is lost
        (PostgreSQL restarted, say) and is dropped, so that the next one is new."""
        pipe = self._pipeline
        if pipe is not None and pipe.driver is _driver(conn):
            with contextlib.suppress(Exception):  # it raises what failed, having read all
                pipe.close()
        try:
            _driver(conn).rollback()
            conn.rollback()
            return True
        except Exception:
            conn.invalidate()
            return False

    def _readable(self) -> None:
        try:
            self._pipeline.readable()  # type: ignore[union-attr]
        except Exception:  # the connection is lost: the next batch fails on it
            log.exception("reading PostgreSQL's answers failed")
            self._unwatch()

    def _unwatch(self) -> None:
        loop, pipe = self._watched
        if loop is not None and pipe is not None and not loop.is_closed():
            loop.remove_reader(pipe.socket)
        self._watched = (None, None)

    def behind(self, write: Callable[[Connection], None]) -> None:
        """Have ``write`` run in the serving loop's batch just before it commits (a batch is opened if none
        is, so that :meth:`durable` waits for it); off the loop, at once in a transaction of its own. For
        rows nothing reads back meanwhile: a batch's many go in one statement, not one a message."""
        if threading.get_ident() != self._loop_thread or self._loop is None:
            with self.begin() as conn:
                write(conn)
            return
        if self._batch_conn is None:
            self._open_batch()
        self._behind.append(write)

    def if_lost(self, forget: Callable[[], None]) -> None:
        """Have ``forget`` run should the serving loop's open batch commit nothing: for what a caller keeps
        in memory beside a write of the batch. Off the loop (or with no batch open) a unit commits as it
        ends, and there is nothing to forget."""
        if self._batch_conn is not None and threading.get_ident() == self._loop_thread:
            self._if_lost.append(forget)

    # On PostgreSQL every statement is a round trip the event loop would wait for, most of a message's
    # time. The batch runs in libpq's pipeline mode instead (pipe.py): a change is sent and not waited
    # for; a read waits for its own answer and every change before it (in order, on the one connection),
    # and so does a change whose caller counts the rows it touched (:meth:`_settle`) and the commit;
    # before a statement SQLAlchemy runs, the pipe is read to its end and closed. A change that fails is
    # then seen by the next statement that waits, perhaps another unit's: the unit that sees it is taken
    # back, the batch rebuilt without it (:meth:`_undo`), and if the failed change is in the rebuilt
    # part, the batch commits nothing and every answer waiting for it fails, as when a commit fails.

    # Every statement costs psycopg about as much as the rest of a message's work on a row; the INSERTs
    # nothing reads back in the batch that wrote them (the messages answered, the books) are held
    # instead and sent as one statement per table (:meth:`release`): before any statement that names the
    # table, and before the batch commits. Sent, they are in the redo log like any change; a unit that
    # fails drops the rows it held.

    def hold(self, conn: Connection, insert: Any, rows: list[Any]) -> bool:
        """Keep rows of ``insert`` (a Prepared; their parameters) to send later, if ``conn`` is PostgreSQL's
        batch."""
        if self._pipeline is None or conn is not self._batch_conn:
            return False
        self._held += ((insert, params) for params in rows)
        self.held_tables.add(insert.table)
        return True

    def release(self, conn: Connection) -> None:
        """Send the rows held on ``conn``, one statement (of up to 32 rows) per table."""
        if conn is not self._batch_conn or self._held_sent == len(self._held):
            return
        tables: dict[Any, list[Any]] = {}
        for insert, params in self._held[self._held_sent :]:
            tables.setdefault(insert, []).append(params)
        self._held_sent, self.held_tables = len(self._held), set()
        for insert, rows in tables.items():
            insert.send(conn, rows)

    def _before_sqlalchemy(self, conn: Connection, cursor: Any, sql: str, *_: Any) -> None:
        if conn is not self._batch_conn or self._pipeline is None:
            return
        if self.held_tables and any(table in sql for table in self.held_tables):
            self.release(conn)
        self._pipeline.close()  # psycopg runs it, with the pipe read to its end

    def _settle(self, conn: Connection) -> None:
        """Wait for the answers to every statement sent on the batch's pipeline so far."""
        if self._pipeline is not None and conn is self._batch_conn:
            self._pipeline.settle()

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
            table = getattr(getattr(context.compiled, "statement", None), "table", None)
            self.rows.changed(getattr(table, "name", ""), context.isinsert)  # not a prepared statement
            self._written(conn, sql, params, cursor.rowcount, many)

    def _undo(self, conn: Connection, start: int, error: BaseException, held: int = 0, sent: int = 0) -> None:
        """Take back the unit that began at ``start`` in the redo log (when ``held`` rows were held, and
        ``sent`` of them sent) and failed with ``error``."""
        del self._held[held:]  # the unit's own, never to be sent
        wrote = len(self._redo) > start or self._from_database(error)
        if not wrote or self._broken is not None:
            del self._redo[start:]  # and no rows were sent since it began (that is a write)
            self.held_tables = {insert.table for insert, _ in self._held[self._held_sent :]}
            return
        driver, cursor = _driver(conn), self._local.cursor
        sqlite = self.engine.dialect.name == "sqlite"
        try:
            if sqlite and driver.total_changes - self._changes != sum(r[3] for r in self._redo):
                raise RuntimeError("a write of this batch is not in its redo log")
            del self._redo[start:]
            if self._pipeline is not None:  # run again one by one, each waited for: rows counted
                with contextlib.suppress(Exception):  # what failed is taken back with the rest
                    self._pipeline.close()
            driver.rollback()
            if sqlite:
                cursor.execute("BEGIN")
                self._changes = driver.total_changes
            for sql, params, many, rows in self._redo:
                (cursor.executemany if many else cursor.execute)(sql, params)
                if rows >= 0 and cursor.rowcount != rows:  # -1: sent on the pipeline, not counted
                    raise RuntimeError(f"run again, {sql!r} changed {cursor.rowcount} rows, not {rows}")
            self._held_sent = sent  # the rows sent before the unit began are sent again above, not the rest
            self.held_tables = {insert.table for insert, _ in self._held[sent:]}
        except Exception as e:
            log.exception("a batch could not be rebuilt after a unit failed; it commits nothing")
            self._broken = e

    def _from_database(self, error: BaseException | None) -> bool:
        """The error, or one it was raised from, is the database's (the transaction may be spoilt)."""
        kinds = DBAPIError | self.engine.dialect.loaded_dbapi.Error
        while error is not None:
            if isinstance(error, kinds):
                return True
            error = error.__cause__ or error.__context__
        return False

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
        pipe = self._pipeline if self._batch is _PIPELINED else None
        if pipe is not None:
            try:  # the batch before was built on: if its COMMIT failed, this one commits nothing either
                pipe.wait_commits()
            except Exception as e:
                self._broken = self._broken or e
        behind, self._behind = self._behind, []
        if self._broken is None and self._batch_conn is not None:
            try:
                for write in behind:  # no unit runs after them: the redo log is done with
                    write(self._batch_conn)
                self.release(self._batch_conn)
            except Exception as e:
                self._broken = e
        self._held, self._held_sent, self.held_tables = [], 0, set()
        conn, batch, self._batch, self._batch_conn = self._batch_conn, self._batch, None, None
        waiters, self._waiters = self._waiters, []
        failure, self._broken = self._broken, None
        lost, self._if_lost = self._if_lost, []
        self._redo.clear()
        if batch is None:
            return
        if pipe is not None:
            self._commit_pipelined(pipe, conn, waiters, lost, failure)  # type: ignore[arg-type]
            return
        try:
            if failure is not None:
                raise failure
            batch.commit()
            self.rows.keep()
        except Exception as e:
            batch.rollback()
            failure = e
        self._committed(waiters, lost, failure)

    # PostgreSQL: the COMMIT follows the batch's changes down the pipe, and is not waited for: the event
    # loop serves the next batch meanwhile and reads the answer when it comes (or the next read of the
    # pipe does). The next batch was built on this one's rows: it commits only once this one has, and
    # nothing if this one failed (:meth:`_flush` waits for the answer before it commits).

    def _commit_pipelined(
        self, pipe: Pipe, conn: Connection, waiters: list[Any], lost: list[Any], failure: Exception | None
    ) -> None:
        if failure is None and pipe.begun and not conn.in_transaction():
            try:
                pipe.commit(lambda failed: self._committed(waiters, lost, failed))
            except Exception as e:
                failure = e
            else:
                self.rows.keep()
                return
        elif failure is None:  # psycopg ran the batch's last statements (SQLAlchemy's, a rebuild): it commits
            try:
                pipe.close()
                if _driver(conn).info.transaction_status == 3:  # INERROR: the COMMIT would roll back unsaid
                    raise RuntimeError("the batch's transaction failed: nothing of it is committed")
                (conn if conn.in_transaction() else _driver(conn)).commit()
                self.rows.keep()
            except Exception as e:
                failure = e
        self._committed(waiters, lost, failure)  # a failure: rolled back as the next batch begins

    def _committed(self, waiters: list[Any], lost: list[Callable[[], None]], failure: Any) -> None:
        """A batch's outcome: every answer waiting for it may leave, or fails with ``failure``."""
        if failure is not None:  # nothing kept is trusted: the failure may be a row another process changed
            self.rows.clear()
            for forget in lost:
                forget()
            if self._pipeline is not None:  # told by the pipe, perhaps while the next batch is open
                self._unclean = True
                if self._batch_conn is not None and self._broken is None:
                    self._broken = failure
        for waiter in (w for w in waiters if not w.done()):
            if failure is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(failure)

    def close(self) -> None:
        """Stop checkpointing, commit the open batch and close this thread's connection."""
        if self._checkpoints is not None:
            self._checkpoints.set()
        self._flush()
        if self._pipeline is not None:
            with contextlib.suppress(Exception):
                self._pipeline.close()  # its COMMIT answered
            self._unwatch()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()


class _Committed:
    """Awaited, returns at once: nothing is waiting for a commit."""

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]


_COMMITTED = _Committed()
_PIPELINED = "the pipe's transaction"  # the open batch's, on PostgreSQL (no SQLAlchemy transaction)


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
    unit). A failure takes back its writes: :meth:`GroupCommit._undo`."""

    __slots__ = ("conn", "held", "kept", "sent", "start", "store")

    def __init__(self, store: GroupCommit, conn: Connection) -> None:
        self.store, self.conn, self.start, self.kept = store, conn, len(store._redo), store.rows.mark()
        self.held, self.sent = len(store._held), store._held_sent

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if error is not None:
            self.store.rows.forget(self.kept)  # what it kept may be what it wrote, now taken back
            self.store._undo(self.conn, self.start, error, self.held, self.sent)
