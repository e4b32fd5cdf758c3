"""The same state store on PostgreSQL (--db postgresql+psycopg://…): a throwaway server per session."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.errors import IntegrityError
from sqlalchemy import Connection, update

from yidi.simulators.app import Options
from yidi.simulators.store import Store, hub_records, insured_settlements, messages, settings
from yidi.simulators.store.pipe import Pipe

from .conftest import Served, free_port, serving
from .test_episodes import admitted, count, settled
from .test_store import (
    _batch,
    _change_behind,
    _committed,
    _fails,
    _read,
    _save,
    _serve,
    _sign_in,
    _sign_nos,
    _stored,
    _visit,
    kept_rows_stay_exact,
)


def _postgres_bin() -> Path | None:
    initdb = shutil.which("initdb") or next(
        iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))), None
    )
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server installed (Debian: apt-get install postgresql)")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="yidi-pg-"))
    if as_postgres:
        shutil.chown(home, "postgres")
    port = free_port()
    data = home / "data"
    subprocess.run(
        [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "yidi"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_postgres,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(home / "log"),
            "-w",
            "-o",
            f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://yidi@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def on_postgres(postgres_url: str) -> Iterator[Served]:
    from sqlalchemy import create_engine

    from yidi.simulators.store import meta

    engine = create_engine(postgres_url)
    meta.drop_all(engine)  # a clean database for each test
    engine.dispose()
    with serving(Options(db=postgres_url)) as handle:
        yield handle


def test_an_episode_settles_reverses_and_settles_again_on_postgres(on_postgres: Served) -> None:
    his, episode = settled(on_postgres, "P01", "H50000000001")
    assert his.reverse(episode, episode.settle_msgid, "2304").ok
    his.settle(episode)
    assert count(on_postgres, insured_settlements) == 2 and count(on_postgres, hub_records) == 2
    flush = lambda: httpx.post(f"{on_postgres.url}/admin/flush", headers=on_postgres.admin).json()  # noqa: E731
    assert flush()["details_sent"] == 1  # the active settlement's lines after the fact, chosen by PostgreSQL
    assert flush()["details_sent"] == 0  # once


def test_concurrent_settlements_on_postgres(on_postgres: Served) -> None:
    his, episode = admitted(on_postgres, "P01", "H50000000001")
    on_postgres.faults("latency:insured:510000/Y2304=0.3")
    data = {"data": his.settlement_data(episode, "2304", use_account=True, mid=False)}
    replies: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: replies.append(
                his.send(his.message("2304", data, insuplc_admdvs=episode.insuplc_admdvs))
            )
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.infcode for r in replies) == [-2, 0]
    assert count(on_postgres, insured_settlements) == 1


def _from_postgres(error: Exception | None) -> bool:
    """The server's error, as psycopg raised it or SQLAlchemy wrapped it (the commit runs through it)."""
    return isinstance(error, psycopg.Error) or isinstance(getattr(error, "orig", None), psycopg.Error)


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[Store]:
    from sqlalchemy import create_engine

    from yidi.simulators.store import meta

    engine = create_engine(postgres_url)
    meta.drop_all(engine)
    engine.dispose()
    store = Store(postgres_url)
    yield store
    store.close()


def test_a_pipelined_batch_takes_back_only_the_failed_units_writes(
    pg_store: Store, postgres_url: str
) -> None:
    """On PostgreSQL the batch's changes are sent without waiting (pipeline mode); a unit that fails after
    writing is still taken back alone, and a version-checked update still counts its rows."""
    store = pg_store

    def wrote_then_failed(conn: Connection) -> None:
        _sign_in(store, conn, "s1")
        conn.execute(settings.insert().values(key="k1", value=1))
        _fails(conn)

    def counted(conn: Connection) -> None:
        assert store.q.save_person.run(conn, version=2, doc={}, k_node="x", k_psn_no="none", k_version=1) == 0

    units = [
        lambda conn: _sign_in(store, conn, "s0"),
        lambda conn: conn.execute(settings.insert().values(key="k0", value=0)),
        wrote_then_failed,
        counted,
        lambda conn: _sign_in(store, conn, "s2"),
    ]
    assert _batch(store, units) is None
    assert _sign_nos(postgres_url) == ["s0", "s2"] and _committed(postgres_url) == {"k0": 0}


def test_a_change_that_fails_on_the_pipeline_fails_the_batch(pg_store: Store, postgres_url: str) -> None:
    """A change that fails is seen by the next statement that waits, here another unit's read: the batch
    commits nothing and the answers waiting for it fail, as when a commit fails."""
    store = pg_store

    def reads(conn: Connection) -> None:
        try:
            store.q.signin.first(conn, k_node="t", k_sign_no="s0")
        except IntegrityError as e:  # the duplicate sign-in of the unit before, seen here
            raise RuntimeError("this unit fails") from e

    units = [lambda conn: _sign_in(store, conn, "s0"), lambda conn: _sign_in(store, conn, "s0"), reads]
    assert _from_postgres(_batch(store, units))
    assert _sign_nos(postgres_url) == []


def test_kept_rows_stay_exact_on_postgres(pg_store: Store, postgres_url: str) -> None:
    def fails_the_batch(store: Store, conn: Connection) -> None:  # sent without waiting; seen at the commit
        _visit(store, conn, "v0")  # v0 is there: a duplicate key

    kept_rows_stay_exact(postgres_url, fails_the_batch, (RuntimeError, psycopg.Error))


def test_a_version_checked_update_of_a_row_another_process_changed_fails_the_batch(
    pg_store: Store, postgres_url: str
) -> None:
    """The update of a row kept at the version it names is sent without waiting for its count; should
    another process have changed the row (a node served by two processes, against the partition rule), the
    server refuses it and the batch commits nothing: the other process's change stands, and the row is
    read again."""
    store = pg_store
    read: list[object] = []
    assert _serve(
        store, [[lambda conn: _visit(store, conn, "v0"), lambda conn: _visit(store, conn, "w")]]
    ) == [None]
    _change_behind(postgres_url, "v0", version=1, state="elsewhere", doc={"by": "another process"})
    stale = [
        lambda conn: read.append(_save(store, conn, "v0", 0, "settling")),  # kept at version 0
        lambda conn: _save(store, conn, "w", 0, "settling"),  # innocent, in the same batch
    ]
    again = [
        lambda conn: read.append(_read(store, conn, "v0")),
        lambda conn: _save(store, conn, "v0", 1, "settling"),
    ]
    failures = _serve(store, [stale], (RuntimeError, psycopg.Error))  # seen by a unit after it, maybe
    assert _from_postgres(failures[0]), failures
    assert _serve(store, [again]) == [None], "the next batch is a transaction of its own, not the failed one"
    assert read == [1, ("elsewhere", 1)]
    assert _stored(postgres_url, "v0") == ("settling", 2, {"state": "settling"})
    assert _stored(postgres_url, "w")[:2] == ("registered", 0), "the batch committed nothing"


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every statement sent from here on, by psycopg or by the batch's pipe."""
    sent: list[str] = []
    for cursor in (psycopg.Cursor, Pipe):
        monkeypatch.setattr(cursor, "execute", _watched(cursor.execute, sent))  # type: ignore[attr-defined]
    return sent


def _watched(execute: Any, sent: list[str]) -> Any:
    def watched(cursor: Any, sql: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(sql))
        return execute(cursor, sql, *args, **kwargs)

    return watched


def _rows_each(statements: list[str], table: str) -> list[int]:
    """The rows of each INSERT into ``table`` among ``statements``."""
    return [sql.count("), (") + 1 for sql in statements if sql.startswith(f"INSERT INTO {table} ")]


def test_many_rows_go_as_multirow_inserts_and_are_run_again_when_a_later_unit_fails(
    pg_store: Store, postgres_url: str, statements: list[str]
) -> None:
    """On PostgreSQL a unit's many rows go as INSERTs of up to 32 rows each (not a statement a row): every
    row is written, and the batch rebuilt after a later unit failed writes them all again."""
    store = pg_store
    row = dict(node="t", fixmedins_code="H", opter_no="1", signed_out=False, sim_time=datetime(2026, 12, 6))
    sign_nos = [f"s{i:03}" for i in range(101)]  # 32 + 32 + 32 + 5

    def many(conn: Connection) -> None:
        store.q.sign_in.run_many(conn, [{**row, "sign_no": s} for s in sign_nos], redo=True)

    def wrote_then_failed(conn: Connection) -> None:
        _sign_in(store, conn, "s999")
        _fails(conn)

    assert _batch(store, [many, wrote_then_failed]) is None
    assert _rows_each(statements, "signins")[:4] == [32, 32, 32, 5]
    assert _sign_nos(postgres_url) == sign_nos


def _record(store: Store, conn: Connection, msgid: str) -> None:
    values = dict(infno="2304", digest="d", sender="H", response={"infcode": 0}, effect=None)
    store.q.record.run(conn, node="t", msgid=msgid, sim_time=datetime(2026, 12, 6), **values)


def _column(url: str, sql: str) -> list[Any]:
    """The first column of what ``sql`` reads, sorted."""
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return sorted(r[0] for r in conn.execute(sql))


def _msgids(url: str) -> list[str]:
    return _column(url, "SELECT msgid FROM messages WHERE reversed_by IS NULL")


def test_messages_answered_are_held_and_sent_as_one_statement_before_anything_reads_them(
    pg_store: Store, postgres_url: str, statements: list[str]
) -> None:
    """The message records of a batch go to PostgreSQL together, in one INSERT, yet a read of the batch
    (a retry's lookup, a reversal marking its original) sees those recorded before it."""
    store = pg_store
    seen: list[Any] = []

    def reads(conn: Connection) -> None:  # a retry of m1: its answer is found
        seen.append(store.q.message.first(conn, k_node="t", k_msgid="m1"))

    def reverses(conn: Connection) -> None:  # a 2601 marks its original through SQLAlchemy
        conn.execute(update(messages).where(messages.c.msgid == "m3").values(reversed_by="r1"))

    units = [lambda c: _record(store, c, "m0"), lambda c: _record(store, c, "m1"), reads]
    units += [lambda c: _record(store, c, "m2"), lambda c: _record(store, c, "m3"), reverses]
    assert _batch(store, units) is None
    assert seen[0] is not None and seen[0].response == {"infcode": 0}
    assert _rows_each(statements, "messages") == [2, 2]  # sent before each read
    assert _msgids(postgres_url) == ["m0", "m1", "m2"]  # m3 was reversed


def test_a_failed_unit_drops_the_rows_it_held_and_keeps_those_before_it(
    pg_store: Store, postgres_url: str
) -> None:
    """Rows held by a unit that fails are never sent; rows held before it are, even when the failed unit
    had sent them (a read of the table) before failing and the batch was rebuilt without it."""
    store = pg_store

    def held_then_failed(conn: Connection) -> None:
        _record(store, conn, "x0")
        _fails(conn)

    def sent_then_failed(conn: Connection) -> None:
        _record(store, conn, "x1")
        store.q.message.first(conn, k_node="t", k_msgid="m0")  # sends m0, m1 and x1
        _sign_in(store, conn, "s9")
        _fails(conn)

    units = [lambda c: _record(store, c, "m0"), held_then_failed, lambda c: _record(store, c, "m1")]
    units += [sent_then_failed, lambda c: _record(store, c, "m2")]
    assert _batch(store, units) is None
    assert _msgids(postgres_url) == ["m0", "m1", "m2"] and _sign_nos(postgres_url) == []


def test_prepayment_moves_held_in_one_batch_are_all_written(pg_store: Store, postgres_url: str) -> None:
    """The moves of a prepayment fund (an INSERT that SQLAlchemy ends with RETURNING id) go as one
    statement of several rows, every one written."""
    store = pg_store
    move = dict(insured="500000", treatment="510000", kind="settle", ref="r", actor="hub", reason="结算")

    def moved(amount: int) -> Callable[[Connection], None]:
        return lambda conn: store.q.fund_moved.run(
            conn, amount=amount, balance=-amount, sim_time=datetime(2026, 12, 6), **move
        )

    assert _batch(store, [moved(100), moved(250), moved(4)]) is None
    assert _column(postgres_url, "SELECT amount FROM prepayment_moves") == [4, 100, 250]


def test_the_nonces_of_every_node_go_in_one_statement_as_the_batch_commits(
    pg_store: Store, postgres_url: str, statements: list[str]
) -> None:
    store = pg_store

    def nonces(node: str, *nonces: str) -> Callable[[Connection], None]:
        rows = [dict(node=node, paasid="p", nonce=n, expires=2**40) for n in nonces]
        return lambda conn: store.behind(lambda conn: store.q.nonce.run_many(conn, rows))

    assert _batch(store, [nonces("hub", "a", "b"), nonces("treatment:510000", "c")]) is None
    assert _rows_each(statements, "nonces") == [3]
    assert _column(postgres_url, "SELECT nonce FROM nonces") == ["a", "b", "c"]


def _refused_at_commit(url: str, msgid: str, sql: str) -> None:
    """A message record ``msgid`` runs ``sql`` when its transaction commits (a deferred trigger)."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(
            "CREATE OR REPLACE FUNCTION at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.msgid = '{msgid}' THEN {sql}; END IF; RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON messages DEFERRABLE INITIALLY DEFERRED "
            "FOR EACH ROW EXECUTE FUNCTION at_commit()"
        )


def test_the_loop_does_not_wait_for_a_commit_and_the_answers_leave_once_it_is_read(
    pg_store: Store, postgres_url: str
) -> None:
    """A batch's COMMIT goes down the pipe and the event loop goes on serving; the batch's answers leave
    when PostgreSQL's answer is read."""
    store = pg_store
    _refused_at_commit(postgres_url, "slow", "PERFORM pg_sleep(0.3)")

    async def run() -> tuple[float, bool, float]:
        store.group_commit(asyncio.get_running_loop())
        with store.begin() as conn:
            _record(store, conn, "slow")
        durable, start = store.durable(), time.perf_counter()
        store._flush()  # as the loop runs it
        flushed, answered = time.perf_counter() - start, durable.done()
        await durable
        return flushed, answered, time.perf_counter() - start

    flushed, answered, committed = asyncio.run(run())
    assert committed >= 0.3 and flushed < 0.1 and not answered
    assert _msgids(postgres_url) == ["slow"]


def test_a_batch_begun_before_the_one_before_it_was_answered_commits_only_if_that_one_did(
    pg_store: Store, postgres_url: str
) -> None:
    """The next batch was built on the rows of the one whose COMMIT is on its way: if that COMMIT fails
    (here a deferred check refuses it), the next batch commits nothing either, though PostgreSQL would
    have taken its own statements."""
    store = pg_store
    _refused_at_commit(postgres_url, "m1", "RAISE EXCEPTION 'refused at commit'")

    async def run() -> list[BaseException | None]:
        store.group_commit(asyncio.get_running_loop())
        durable = []
        for msgid in ("m0", "m1", "m2"):  # three batches, each begun before the last one is answered
            with store.begin() as conn:
                _record(store, conn, msgid)
            durable.append(store.durable())
            store._flush()
        return await asyncio.gather(*durable, return_exceptions=True)  # type: ignore[return-value]

    first, refused, next_ = asyncio.run(run())
    assert first is None and _from_postgres(refused) and next_ is not None
    assert _msgids(postgres_url) == ["m0"]


def test_a_lost_connection_fails_its_batch_and_the_next_batch_connects_again(
    pg_store: Store, postgres_url: str
) -> None:
    """PostgreSQL restarted, or the connection cut: the batch on it commits nothing, and the next batch
    runs on a new connection rather than failing on the dead one for the rest of the run."""
    store = pg_store

    def cut() -> None:  # and wait until the server process is gone, the event loop not running meanwhile
        backend = store._pipeline.driver.info.backend_pid  # type: ignore[union-attr]
        with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", [backend])
            alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
            for _ in range(100):
                if not conn.execute(alive, [backend]).fetchone()[0]:  # type: ignore[index]
                    return
                time.sleep(0.05)

    async def run() -> list[BaseException | None]:
        store.group_commit(asyncio.get_running_loop())
        outcomes: list[BaseException | None] = []
        for msgid in ("m0", "m1", "m2"):
            with contextlib.suppress(psycopg.Error), store.begin() as conn:
                _record(store, conn, msgid)
            try:
                await asyncio.wait_for(store.durable(), 10)  # a COMMIT never answered: TimeoutError
                outcomes.append(None)
            except Exception as e:
                outcomes.append(e)
            if msgid == "m0":
                cut()  # the next batch begins on the connection, not knowing it is lost
        return outcomes

    first, lost, after = asyncio.run(run())
    assert first is None and lost is not None and after is None
    assert _msgids(postgres_url) == ["m0", "m2"]


def test_a_connection_cut_while_a_commit_is_on_its_way_fails_that_batch_and_not_the_next(
    pg_store: Store, postgres_url: str
) -> None:
    """The connection breaks with a COMMIT sent and not answered (no word from the server, as when the
    network drops): the batch waiting for it fails rather than waiting for ever; the next connects again."""
    store = pg_store
    _refused_at_commit(postgres_url, "slow", "PERFORM pg_sleep(0.5)")

    async def run() -> list[BaseException | None]:
        store.group_commit(asyncio.get_running_loop())
        outcomes: list[BaseException | None] = []
        for msgid in ("slow", "after"):
            with store.begin() as conn:
                _record(store, conn, msgid)
            durable = store.durable()
            if msgid == "slow":
                store._flush()  # the COMMIT sent
                fd = os.dup(store._pipeline.socket)  # type: ignore[union-attr]
                with socket.socket(fileno=fd) as cut:
                    cut.shutdown(socket.SHUT_RDWR)
            try:
                await asyncio.wait_for(durable, 10)
                outcomes.append(None)
            except Exception as e:
                outcomes.append(e)
        return outcomes

    cut, after = asyncio.run(run())
    assert isinstance(cut, psycopg.OperationalError) and after is None
    assert "after" in _msgids(postgres_url)
