"""Group commit: units run on the serving loop share one commit, yet each stands or falls alone, and
nothing is reported durable before another connection can read it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, select, update
from sqlalchemy.exc import IntegrityError

from yidi.simulators.store import Store, message_key, messages, persons, settings, signins, visits


def _committed(url: str) -> dict[str, object]:
    """What a separate connection (another process, after a crash) sees."""
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {row.key: row.value for row in conn.execute(select(settings))}
    engine.dispose()
    return found


def test_units_on_the_loop_share_one_commit_and_fail_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store(url)
    statements: list[str] = []

    async def serve() -> None:
        store.group_commit(asyncio.get_running_loop())
        store._conn().connection.dbapi_connection.set_trace_callback(statements.append)  # type: ignore[union-attr]

        async def unit(i: int) -> None:
            if i == 2:
                with pytest.raises(RuntimeError), store.begin() as conn:
                    conn.execute(settings.insert().values(key="k2", value=2))
                    raise RuntimeError("this unit fails")
            else:
                store.put_setting(f"k{i}", i)
            assert _committed(url) == {}, "nothing is committed before the loop comes round"
            await store.durable()
            assert _committed(url).get(f"k{i}") == (None if i == 2 else i)

        await asyncio.gather(*(unit(i) for i in range(4)))

    asyncio.run(serve())
    store.close()
    assert _committed(url) == {"k0": 0, "k1": 1, "k3": 3}
    assert statements.count("COMMIT") == 1


def _sign_in(store: Store, conn: Connection, sign_no: str) -> None:
    """A write on the hot path (a prepared statement on the driver's cursor, not through SQLAlchemy)."""
    store.q.sign_in.run(
        conn,
        node="t",
        sign_no=sign_no,
        fixmedins_code="H",
        opter_no="1",
        signed_out=False,
        sim_time=datetime(2026, 12, 4),
    )


def _batch(store: Store, units: list[Callable[[Connection], None]]) -> Exception | None:
    """Run the units as one batch on the serving loop; why waiting for it to be durable failed, if it did."""

    async def serve() -> Exception | None:
        store.group_commit(asyncio.get_running_loop())
        for unit in units:
            with contextlib.suppress(RuntimeError), store.begin() as conn:
                unit(conn)
        try:
            await store.durable()
        except Exception as e:
            return e
        return None

    return asyncio.run(serve())


def _sign_nos(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = sorted(conn.execute(select(signins.c.sign_no)).scalars())
    engine.dispose()
    return found


def _fails(conn: Connection) -> None:
    raise RuntimeError("this unit fails")


def test_a_failed_unit_takes_back_only_its_own_writes(tmp_path: Path) -> None:
    """No savepoint: the batch rolls back and the writes of the units before the failed one run again."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store(url)
    statements: list[str] = []
    store._conn().connection.dbapi_connection.set_trace_callback(statements.append)  # type: ignore[union-attr]

    def wrote_then_failed(conn: Connection) -> None:
        _sign_in(store, conn, "s1")
        conn.execute(settings.insert().values(key="k1", value=1))
        _fails(conn)

    units = [
        lambda conn: _sign_in(store, conn, "s0"),
        lambda conn: conn.execute(settings.insert().values(key="k0", value=0)),
        _fails,  # before any write: nothing to take back
        wrote_then_failed,
        lambda conn: _sign_in(store, conn, "s2"),
    ]
    assert _batch(store, units) is None
    store.close()
    assert _sign_nos(url) == ["s0", "s2"]
    assert _committed(url) == {"k0": 0}
    assert statements.count("ROLLBACK") == 1, "only the unit that wrote is taken back"


def test_a_write_the_redo_log_missed_fails_the_whole_batch(tmp_path: Path) -> None:
    """A write run behind the store's back could not be run again: rather than commit the batch without
    it, the batch commits nothing and every answer waiting for it fails."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store(url)

    def behind_the_back(conn: Connection) -> None:
        conn.connection.dbapi_connection.execute("INSERT INTO settings VALUES ('raw', '1')")  # type: ignore[union-attr]

    def wrote_then_failed(conn: Connection) -> None:
        _sign_in(store, conn, "s1")
        _fails(conn)

    failure = _batch(store, [lambda conn: _sign_in(store, conn, "s0"), behind_the_back, wrote_then_failed])
    assert isinstance(failure, RuntimeError) and "redo log" in str(failure), failure
    store.close()
    assert _sign_nos(url) == [] and _committed(url) == {}


def test_a_serial_block_reserved_in_a_batch_that_commits_nothing_is_forgotten(tmp_path: Path) -> None:
    """The block's reservation is rolled back with its batch: kept in memory, the block would be reserved
    again from the same start once used up, and repeat numbers already committed."""
    from yidi.simulators.links import Serials

    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store(url)
    serials = Serials(store, "ids")
    serials.BLOCK = 3  # type: ignore[misc]
    try:
        given: list[int] = []
        # a write the redo log missed, then a failing unit: the batch commits nothing (as above)
        raw = "INSERT INTO settings VALUES ('raw', '1')"
        failure = _batch(
            store,
            [
                lambda conn: given.append(serials()),
                lambda conn: conn.connection.dbapi_connection.execute(raw),  # type: ignore[union-attr]
                lambda conn: (_sign_in(store, conn, "s1"), _fails(conn)),
            ],
        )
        assert failure is not None
        given = []  # that one rolled back with its batch: its number went nowhere
        assert _batch(store, [lambda conn: given.extend(serials() for _ in range(7))]) is None
        assert len(set(given)) == len(given) == 7, given  # three blocks reserved, no number twice
    finally:
        store.close()


def test_units_off_the_loop_commit_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store(url)
    store.put_setting("k", 1)
    assert _committed(url) == {"k": 1}
    store.close()


def test_prepared_statements_store_what_sqlalchemy_reads_back(tmp_path: Path) -> None:
    """The hot path binds datetimes and booleans itself; SQLAlchemy must read back exactly what was stored."""
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    moments = [
        datetime(2026, 11, 23, 9, 0, 0),
        datetime(2026, 12, 31, 23, 59, 59, 999999),
        datetime(1999, 1, 1),
    ]
    with store.begin() as conn:
        for i, when in enumerate(moments):
            store.q.sign_in.run(
                conn,
                node="t",
                sign_no=f"s{i}",
                fixmedins_code="H",
                opter_no="1",
                signed_out=i == 1,
                sim_time=when,
            )
    with pytest.raises(KeyError), store.begin() as conn:  # not a boolean: refused, as SQLAlchemy does
        store.q.sign_in.run(
            conn,
            node="t",
            sign_no="s9",
            fixmedins_code="H",
            opter_no="1",
            signed_out="no",
            sim_time=moments[0],
        )
    with store.begin() as conn:
        read = conn.execute(
            select(signins.c.sim_time, signins.c.signed_out)
            .where(signins.c.node == "t")
            .order_by(signins.c.sign_no)
        )
        assert [(row.sim_time, row.signed_out) for row in read] == [
            (when, i == 1) for i, when in enumerate(moments)
        ]
        raw = conn.exec_driver_sql("SELECT sim_time FROM signins WHERE sign_no = 's0'").scalar()
    assert raw == "2026-11-23 09:00:00.000000"  # SQLAlchemy's own text: its range queries compare it
    store.close()


def test_msgid_and_sign_no_lookups_search_the_time_ordered_key(tmp_path: Path) -> None:
    """The tables keyed by time have no other index on their ids: a lookup SQLite cannot answer from
    the key scans every message ever answered."""
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    reversal = update(messages).where(message_key.is_("n", "m")).values(reversed_by="r").compile(store.engine)
    looked_up = [(p.sql, ["m"] * (len(p.names) - 1) + ["n"]) for p in (store.q.message, store.q.signin)]
    with store.begin() as conn:
        for sql, params in [*looked_up, (str(reversal), list(reversal.params.values()))]:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params)).all()
            assert "_by_time" in plan[0][-1], (sql, plan)
    store.close()


def test_a_database_made_before_the_time_ordered_keys_gets_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE messages (node VARCHAR(24), msgid VARCHAR(40), infno VARCHAR(8),"
            " digest VARCHAR(64), sender VARCHAR(40), response JSON, effect JSON, reversed_by VARCHAR(40),"
            " sim_time DATETIME, PRIMARY KEY (node, msgid))"
        )
    engine.dispose()
    store = Store(url)
    with store.begin() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {store.q.message.sql}", ("m", "m", "n")).all()
    assert "messages_by_time" in plan[0][-1], plan
    store.close()


def test_the_time_ordered_key_is_unique_per_node(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    msgid = "H51010000001202611230900000001"
    row = dict(infno="9001", digest="d", sender="H", response={}, sim_time=datetime(2026, 11, 23))
    for node, other in (("a", msgid), ("b", msgid), ("a", msgid[:12])):  # another node; a prefix alone
        with store.begin() as conn:
            conn.execute(messages.insert().values(node=node, msgid=other, **row))
    with pytest.raises(IntegrityError), store.begin() as conn:
        conn.execute(messages.insert().values(node="a", msgid=msgid, **row))
    store.close()


# ── rows kept in memory (store/rows.py) ───────────────────────────────────────────────────────────────


def _visit(store: Store, conn: Connection, mdtrt_id: str) -> None:
    """A new visit, kept in memory as it is written."""
    store.q.new_visit.run(
        conn,
        node="t",
        mdtrt_id=mdtrt_id,
        psn_no="P",
        fixmedins_code="H",
        insuplc_admdvs="500000",
        kind="inpatient",
        state="registered",
        version=0,
        cross=True,
        doc={"fees": {"1": {"amount": "1.00"}}},
        sim_time=datetime(2026, 12, 6),
    )


def _save(store: Store, conn: Connection, mdtrt_id: str, version: int, state: str) -> int:
    """The version-checked update of treatment/visits.py: the rows it changed."""
    return store.q.save_visit.run(
        conn, state=state, version=version + 1, doc={"state": state}, k_node="t", k_mdtrt_id=mdtrt_id,
        k_version=version,
    )  # fmt: skip


def _read(store: Store, conn: Connection, mdtrt_id: str) -> tuple[str, int] | None:
    row = store.q.visit.first(conn, k_node="t", k_mdtrt_id=mdtrt_id)
    return None if row is None else (row.state, row.version)


def _serve(
    store: Store,
    batches: list[list[Callable[[Connection], object]]],
    failing: tuple[type[Exception], ...] = (RuntimeError,),
) -> list[Exception | None]:
    """Run each list of units as one batch on one serving loop, waiting for each to be durable; why each
    batch failed, if it did. A unit raising one of ``failing`` fails alone."""

    async def serve() -> list[Exception | None]:
        store.group_commit(asyncio.get_running_loop())
        failures: list[Exception | None] = []
        for units in batches:
            for unit in units:
                with contextlib.suppress(*failing), store.begin() as conn:
                    unit(conn)
            try:
                await store.durable()
                failures.append(None)
            except Exception as e:
                failures.append(e)
        return failures

    return asyncio.run(serve())


def _change_behind(url: str, mdtrt_id: str, **values: object) -> None:
    """Another process changes a visit (against the partition rule, or a tool)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(update(visits).where(visits.c.mdtrt_id == mdtrt_id).values(**values))
    engine.dispose()


def _stored(url: str, mdtrt_id: str) -> tuple[str, int, object]:
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(select(visits).where(visits.c.mdtrt_id == mdtrt_id)).one()
    engine.dispose()
    return row.state, row.version, row.doc


def _behind_the_back(store: Store, conn: Connection) -> None:
    """SQLite: a write the redo log cannot run again; the batch fails once a unit after it fails."""
    conn.execute(settings.insert().values(key="k", value=1))
    conn.connection.dbapi_connection.cursor().execute("DELETE FROM settings")  # type: ignore[union-attr]


def kept_rows_stay_exact(
    url: str,
    fails_the_batch: Callable[[Store, Connection], None] = _behind_the_back,
    failing: tuple[type[Exception], ...] = (RuntimeError,),
) -> None:
    """A row kept in memory answers reads without the database, and whatever a failed unit or a failed
    batch wrote or read is dropped with it: reads after it see what the database has. ``failing``: what
    a unit that fails raises (on PostgreSQL also the error of a change sent before it, seen by it)."""
    store = Store(url)
    seen: dict[str, object] = {}

    def wrote_then_failed(conn: Connection) -> None:
        _visit(store, conn, "v1")
        assert _read(store, conn, "v1") == ("registered", 0)
        _fails(conn)

    def changed_then_failed(conn: Connection) -> None:
        assert _save(store, conn, "v0", 0, "settling") == 1
        _fails(conn)

    def failed_read(conn: Connection) -> None:
        seen["v9 in the failed batch"] = _read(store, conn, "v9")  # missing, as this batch sees it

    def redo_fails(conn: Connection) -> None:
        _visit(store, conn, "v2")
        _fails(conn)

    def after(conn: Connection) -> None:
        seen.update(v0=_read(store, conn, "v0"), v1=_read(store, conn, "v1"), v2=_read(store, conn, "v2"))
        seen["v9"] = _read(store, conn, "v9")

    def late_visit(conn: Connection) -> None:
        _visit(store, conn, "v9")
        _visit(store, conn, "v2")

    failures = _serve(
        store,
        [
            [lambda conn: _visit(store, conn, "v0"), wrote_then_failed, changed_then_failed],
            [
                failed_read,
                lambda conn: _visit(store, conn, "v9"),
                lambda conn: fails_the_batch(store, conn),
                redo_fails,
            ],
            [after],
        ],
        failing,
    )
    assert failures[0] is None and failures[1] is not None and failures[2] is None, failures
    assert seen["v0"] == ("registered", 0), "a failed unit's update is dropped with it"
    assert seen["v1"] is None, "a failed unit's insert is dropped with it"
    assert seen["v9 in the failed batch"] is None and seen["v9"] is None, "a failed batch's insert is dropped"
    assert seen["v2"] is None
    _change_behind(url, "v0", state="changed behind")  # kept: the next read does not ask the database
    assert _serve(store, [[after, late_visit]], failing) == [None]
    assert seen["v0"] == ("registered", 0)
    assert _stored(url, "v9")[:2] == ("registered", 0)
    store.close()
    restarted = Store(url)  # a restart reads what was committed
    assert _serve(restarted, [[after]], failing) == [None]
    assert seen == {**seen, "v0": ("changed behind", 0), "v9": ("registered", 0), "v2": ("registered", 0)}
    restarted.close()


def test_kept_rows_stay_exact(tmp_path: Path) -> None:
    kept_rows_stay_exact(f"sqlite:///{tmp_path / 'state.db'}")


def test_a_version_checked_update_of_a_kept_row_changed_behind_it_changes_nothing(tmp_path: Path) -> None:
    """On SQLite the update's count is known at once: it touched nothing (E6005 for the caller), the row is
    dropped and read again from the database."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store(url)
    counts: list[object] = []
    assert _serve(store, [[lambda conn: _visit(store, conn, "v0")]]) == [None]
    _change_behind(url, "v0", version=1, state="elsewhere")
    units = [
        lambda conn: counts.append(_save(store, conn, "v0", 0, "settling")),
        lambda conn: counts.append(_read(store, conn, "v0")),
    ]
    assert _serve(store, [units]) == [None]
    assert counts == [0, ("elsewhere", 1)]
    store.close()
    assert _stored(url, "v0")[:2] == ("elsewhere", 1)


def test_a_change_sqlalchemy_runs_drops_the_tables_kept_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store(url)
    read: list[object] = []

    def by_sqlalchemy(conn: Connection) -> None:
        conn.execute(update(visits).where(visits.c.mdtrt_id == "v0").values(state="discharged"))

    units = [
        lambda conn: _visit(store, conn, "v0"),
        by_sqlalchemy,
        lambda conn: read.append(_read(store, conn, "v0")),
    ]
    assert _serve(store, [units]) == [None]
    assert read == [("discharged", 0)]
    store.close()


def test_rows_kept_from_the_start_are_the_committed_ones(tmp_path: Path) -> None:
    """A node keeps its rows from the start (the insured side its persons): after a restart they are what
    was committed before it, and a version-checked update from them changes the row."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = Store(url)
    with first.begin() as conn:
        conn.execute(persons.insert().values(node="t", psn_no="P", version=0, doc={"ytd": 0}))
    done: list[object] = []
    save = first.q.save_person
    units = [
        lambda conn: done.append(
            save.run(conn, version=1, doc={"ytd": 1}, k_node="t", k_psn_no="P", k_version=0)
        )
    ]
    assert _serve(first, [units]) == [None] and done == [1]
    first.close()

    restarted = Store(url)
    cached = restarted.q.person.cached
    assert cached is not None
    with restarted.read() as conn:
        cached.preload(conn.execute(select(persons)).mappings())
    other = create_engine(url)  # another process changes it: not seen, the row is kept, not read again
    with other.begin() as conn:
        conn.execute(persons.update().values(doc={"ytd": "changed behind"}))
    other.dispose()
    with restarted.begin() as conn:  # another node's first start: an insert changes no row kept
        conn.execute(persons.insert().values(node="u", psn_no="P", version=0, doc={}))
    read: list[object] = []

    def reads(conn: Connection) -> None:
        row = restarted.q.person.first(conn, k_node="t", k_psn_no="P")
        assert row is not None
        read.append((row.version, row.doc))

    assert _serve(restarted, [[reads]]) == [None]
    assert read == [(1, {"ytd": 1})]
    restarted.close()


def test_a_node_with_all_its_rows_kept_reads_none_from_the_database(tmp_path: Path) -> None:
    """Kept complete (the insured side's visits): a key not kept has no row, asked of nobody; a failed unit's
    new row is taken back to none, and a row made by a unit that stands is found."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store(url)
    cached = store.q.visit.cached
    assert cached is not None
    cached.preload([], complete="t")
    other = create_engine(url)  # against the partition rule: not seen
    with other.begin() as conn:
        conn.execute(
            visits.insert().values(
                node="t", mdtrt_id="x", psn_no="P", fixmedins_code="H", insuplc_admdvs="5", kind="inpatient",
                state="registered", version=0, cross=True, doc={}, sim_time=datetime(2026, 12, 6),
            )
        )  # fmt: skip
    other.dispose()
    read: dict[str, object] = {}

    def made_then_failed(conn: Connection) -> None:
        _visit(store, conn, "y")
        _fails(conn)

    def reads(conn: Connection) -> None:
        read.update({m: _read(store, conn, m) for m in ("x", "y", "z")})

    units = [made_then_failed, lambda conn: _visit(store, conn, "z"), reads]
    assert _serve(store, [units]) == [None]
    assert read == {"x": None, "y": None, "z": ("registered", 0)}
    store.close()


def test_many_rows_written_in_one_call_are_run_again_when_a_later_unit_fails(tmp_path: Path) -> None:
    """A unit's executemany (the details of a Y2301) is in the redo log: the batch rebuilt after a later
    unit failed keeps its rows, and SQLite's count of changed rows still matches the log."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store(url)
    row = dict(node="t", fixmedins_code="H", opter_no="1", signed_out=False, sim_time=datetime(2026, 12, 6))

    def wrote_then_failed(conn: Connection) -> None:
        _sign_in(store, conn, "s9")
        _fails(conn)

    many = [
        lambda conn: store.q.sign_in.run_many(conn, [{**row, "sign_no": s} for s in ("s0", "s1")], redo=True)
    ]
    assert _serve(store, [[*many, wrote_then_failed]]) == [None]
    store.close()
    assert _sign_nos(url) == ["s0", "s1"]
