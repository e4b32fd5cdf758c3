"""Scale-out in one run: settlements per second, CPU per settlement and per request of the simulators in one
process and partitioned over processes (the hub, and the provinces in groups), on SQLite and on PostgreSQL,
on the same machine, with the ledger checked after each run; then the cores 10 × today's national peak hour
needs, derived from the measured costs.

    python bench/scaleout.py [--rate 30] [--seconds 30] [--workers 3 [--hub-beside] | --one-process]
                             [--repeat 3] [--postgres postgresql+psycopg://…] [--pin] [--ceiling STEP]

Each configuration: the simulators started (``yidi serve``, or ``simulators.partition`` for the partitioned
one), then ``yidi load --shape flat --rate R --duration S --sut URL --db …`` (whole inpatient episodes, the
ledger checked). CPU is measured over the load run only (not start-up): the simulators' processes, the
PostgreSQL server's (when it runs on this machine: the processes under the postmaster listening on its
port) and Locust's own count. The ratios between configurations are what to read: they are measured in the
same run on the same, possibly busy, machine; the absolute rates move with whatever else runs there.
On a shared machine one pair of runs can land a ratio anywhere in ±20 %: ``--repeat N`` runs N rounds, the
two configurations in turn (the order flipped each round, so a drift in the machine's load falls on both),
and prints each round's ratio and their median.

``--pin`` gives the simulators the first core and everything else (Locust, the PostgreSQL server) the
others: SQLite and PostgreSQL are then compared on the simulator process's own cost at one core each,
not on how four processes share two cores (SQLite's database runs inside the simulator
process, PostgreSQL's beside it: unpinned, on a 2-core machine that also runs Locust, the server's CPU is
taken from the simulator's core).

``--ceiling STEP`` finds the rate each store holds in one process: from ``--rate`` up by STEP, both stores
at each rate in turn, until a rate is missed twice in a row.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

from yidi.actors import admin
from yidi.load import cli as load_cli
from yidi.load import shapes
from yidi.simulators import partition
from yidi.simulators.background import free_port
from yidi.world import topology

NATIONAL_PEAK = shapes.day("day-2025").rate(10.5 * 3600)  # settlements/s in 2025's peak hour (≈36)
TARGET = 10 * NATIONAL_PEAK  # ≈360 settlements/s
TARGET_REQUESTS = 3000  # ≈ requests/s at 10 × the peak hour in today's mix (outpatient visits: 6 requests)
UTILISATION = 0.7  # cores sized to run at 70 %: headroom for bursts


def cpu_seconds(pids: list[int]) -> float:
    """CPU used so far by these processes and their children, those that ended too (a PostgreSQL backend
    whose connection closed: its parent reaped it, and counts its time among its children's)."""
    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            for q in (p, *p.children(recursive=True)):
                t = q.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def postmaster(url: str | None) -> list[int]:
    """The local PostgreSQL server's processes (its backends are the postmaster's children), if any."""
    if not url:
        return []
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)  # ?host=/dir&port=…
    port = parts.port or int(query.get("port", 5432))  # a Unix socket names its port in the query
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return [conn.pid]
    return []


TOKEN = admin.new_token()  # every server's admin credential, given to `yidi load` too
ENV = {**os.environ, admin.ENV: TOKEN}


@contextmanager
def one_process(db: str, crowd: int, logs: Path) -> Iterator[tuple[str, str, list[int]]]:
    port = free_port()
    cmd = [sys.executable, "-m", "yidi", "serve", "--port", str(port), "--db", db, "--crowd", str(crowd)]
    log = (logs / "one-process.log").open("w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=ENV)
    url = f"http://127.0.0.1:{port}"
    try:
        admin.wait_until_up(url, TOKEN, server, log=logs / "one-process.log")
        yield url, db, [server.pid]
        httpx.post(f"{url}/admin/flush", timeout=60, headers=admin.headers(TOKEN)).raise_for_status()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@contextmanager
def partitioned(
    db: str, crowd: int, workers: int, logs: Path, hub_alone: bool
) -> Iterator[tuple[str, str, list[int]]]:
    provinces = list(topology.load().provinces)
    ports = [free_port() for _ in range(workers)]
    deployment = partition.plan(provinces, workers, db=db, ports=ports, hub_alone=hub_alone)
    with partition.running(deployment, token=TOKEN, extra=["--crowd", str(crowd)], logs=logs) as running:
        yield running.url, ",".join(running.databases), running.pids
        running.flush()


@contextmanager
def fresh_postgres(url: str) -> Iterator[str]:
    """A new database on the server of ``url`` for one run (the books of one run only), dropped after it."""
    from sqlalchemy import create_engine, text

    name = f"yidi_bench_{int(time.time() * 1000)}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield urlsplit(url)._replace(path=f"/{name}").geturl()
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


@contextmanager
def pinned(pin: bool, simulators: list[int], others: list[int]) -> Iterator[None]:
    """With ``pin``: the simulators on the first core, the other processes on the rest; every thread of
    them and of their children (a PostgreSQL backend), and what they start meanwhile; as they were after."""
    cores = list(range(psutil.cpu_count() or 1))
    if not pin or len(cores) < 2:
        yield
        return
    place(simulators, cores[:1])
    place(others, cores[1:])
    try:
        yield
    finally:
        place(others, cores)


def place(pids: list[int], cores: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            parent = psutil.Process(pid)
            for process in (parent, *parent.children(recursive=True)):
                for thread in process.threads():
                    with contextlib.suppress(OSError):
                        os.sched_setaffinity(thread.id, cores)


def run(kind: str, store: str, args: argparse.Namespace, work: Path, n: int = 0) -> dict:
    out = work / f"{kind}-{store}-{n}"
    out.mkdir(parents=True)
    os.sync()  # the last run's dirty pages written now, not by the kernel during this one
    sqlite = nullcontext(f"sqlite:///{out}/state.db")
    with fresh_postgres(args.postgres) if store == "postgresql" else sqlite as db:
        return measure(kind, store, db, args, out)


def measure(kind: str, store: str, db: str, args: argparse.Namespace, out: Path) -> dict:
    crowd = load_cli.crowd_for(shapes.flat(rate=args.rate, duration=args.seconds), None)
    started = (
        one_process(db, crowd, out)
        if kind == "one process"
        else partitioned(db, crowd, args.workers, out, not args.hub_beside)
    )
    with started as (url, books, pids):
        pg = postmaster(args.postgres if store == "postgresql" else None)
        cpu0, pg0, t0 = cpu_seconds(pids), cpu_seconds(pg), time.monotonic()
        cmd = [sys.executable, "-m", "yidi", "load", "--shape", "flat", "--rate", str(args.rate)]
        cmd += ["--duration", str(args.seconds), "--sut", url, "--db", books, "--out", str(out)]
        cmd += ["--workers", str(args.locust_workers)] if args.locust_workers else []
        locust = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV)
        with pinned(args.pin, pids, [*pg, locust.pid]):
            locust.communicate()
        cpu, pg_cpu, wall = cpu_seconds(pids) - cpu0, cpu_seconds(pg) - pg0, time.monotonic() - t0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    settled, requests = max(summary["done"], 1), max(summary["requests"], 1)
    return {
        "kind": kind,
        "store": store,
        "processes": len(pids),
        "asked": summary["asked"],
        "done": summary["done"],
        "per_s": summary["in_time"] / args.seconds,
        "held": summary["held"],
        "ledger": "OK" if summary["ledger"] == [] else f"{len(summary['ledger'] or [])} problems",
        "passed": locust.returncode == 0,
        "cpu_s": cpu,
        "wall_s": wall,
        "ms_per_settlement": 1000 * cpu / settled,
        "ms_per_request": 1000 * cpu / requests,
        "pg_ms_per_request": 1000 * pg_cpu / requests if pg else None,
        "locust_ms_per_request": 1000 * summary["cpu_s"] / requests,
        "requests_per_settlement": requests / settled,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=30, help="inpatient episodes/s asked of each")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workers", type=int, default=3, help="processes of the partitioned deployment")
    parser.add_argument(
        "--hub-beside", action="store_true", help="the hub beside the smallest province group, not alone"
    )
    parser.add_argument("--locust-workers", type=int, default=0, help="Locust worker processes (0: one)")
    parser.add_argument("--postgres", help="a PostgreSQL server to measure too (a database is made per run)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every configuration, in turn")
    parser.add_argument(
        "--one-process", action="store_true", help="one process only: PostgreSQL against SQLite, no partition"
    )
    parser.add_argument(
        "--pin", action="store_true", help="the simulators on core 0, Locust and PostgreSQL on the others"
    )
    parser.add_argument(
        "--ceiling",
        type=float,
        metavar="STEP",
        help="one process: from --rate up by STEP while it holds (a miss tried twice), for each store",
    )
    args = parser.parse_args()
    kinds = KINDS[:1] if args.one_process else KINDS
    work = Path(tempfile.mkdtemp(prefix="yidi-scaleout-"))
    stores = ["sqlite", *(["postgresql"] if args.postgres else [])]
    print(
        f"flat inpatient load at {args.rate:g}/s for {args.seconds} s per configuration; partitioned: "
        + (
            f"{args.workers} province groups, the hub beside the smallest"
            if args.hub_beside
            else f"the hub + {args.workers - 1} province groups"
        )
        + f"; {psutil.cpu_count()} cores{', simulators on core 0 alone' if args.pin else ''}, load average"
        f" {psutil.getloadavg()[0]:.1f} at the start (the figures of one run compare with each other)"
    )
    head = ("configuration", "done/s", "held", "ledger", "CPU ms/settl.", "ms/request", "PG ms/req", "Locust")
    widths = (30, 7, 5, 7, 14, 11, 10, 7)
    print(" ".join(f"{h:>{w}}" for h, w in zip(head, widths, strict=True)))
    if args.ceiling:
        ceilings(args, stores, work)
        return
    rows = []
    for n in range(args.repeat):
        for store in stores:
            for kind in kinds if n % 2 == 0 else kinds[::-1]:
                r = run(kind, store, args, work, n)
                rows.append(r | {"round": n})
                show(r, f"{kind} ({r['processes']}) · {store}" + (f" #{n + 1}" if args.repeat > 1 else ""))
    for store in stores if not args.one_process else ():
        ratios = [
            split["ms_per_settlement"] / one["ms_per_settlement"]
            for one, split in (
                (pick(rows, store, KINDS[0], n), pick(rows, store, KINDS[1], n)) for n in range(args.repeat)
            )
        ]
        each = f" (rounds: {', '.join(f'{r:.2f}×' for r in ratios)})" if len(ratios) > 1 else ""
        print(
            f"{store}: partitioned / one process, server CPU per settlement:"
            f" {statistics.median(ratios):.2f}×{' median' if len(ratios) > 1 else ''}{each}"
        )
    if args.postgres:
        for n in range(args.repeat):
            one_sqlite, one_pg = (pick(rows, s, KINDS[0], n) for s in stores)
            print(f"one process: PostgreSQL held {one_pg['per_s']:.1f}/s, SQLite {one_sqlite['per_s']:.1f}/s")
    sizing(rows)


KINDS = ("one process", "partitioned")


def show(r: dict, name: str) -> None:
    pg = f"{r['pg_ms_per_request']:.2f}" if r["pg_ms_per_request"] is not None else "-"
    print(
        f"{name:>30} {r['per_s']:7.1f} {'yes' if r['held'] else 'no':>5} {r['ledger']:>7}"
        f" {r['ms_per_settlement']:14.2f} {r['ms_per_request']:11.3f} {pg:>10}"
        f" {r['locust_ms_per_request']:7.3f}",
        flush=True,
    )


def ceilings(args: argparse.Namespace, stores: list[str], work: Path) -> None:
    """The highest rate each store holds in one process: the rate raised by a step while every store left
    holds it, the stores in turn at each rate (so that the machine's drift falls on both); a rate missed is
    tried once more before the store is done."""
    held: dict[str, float | None] = dict.fromkeys(stores)
    left, rate, n = list(stores), args.rate, 0
    while left:
        for store in list(left):
            for attempt in range(2):
                n += 1
                r = run(KINDS[0], store, argparse.Namespace(**{**vars(args), "rate": rate}), work, n)
                show(r, f"{rate:g}/s · {store}" + (" again" if attempt else ""))
                if r["held"] and r["ledger"] == "OK":
                    held[store] = rate
                    break
            else:
                left.remove(store)
        rate += args.ceiling
    for store, top in held.items():
        print(f"{store}: held up to {top:g}/s" if top else f"{store}: did not hold {args.rate:g}/s")


def pick(rows: list[dict], store: str, kind: str, n: int) -> dict:
    return next(r for r in rows if r["store"] == store and r["kind"] == kind and r["round"] == n)


def sizing(rows: list[dict]) -> None:
    """Cores for 10 × today's national peak hour, from the measured CPU per request (per settlement for the
    inpatient rate), at 70 % utilisation."""
    print(
        f"\nsizing for 10 × today's national peak hour: {TARGET:.0f} settlements/s, ≈{TARGET_REQUESTS:,}"
        f" requests/s (cores at {UTILISATION:.0%})"
    )
    print(f"{'configuration':>30} {'simulators':>11} {'Locust':>7} {'PostgreSQL':>11} {'processes':>10}")
    for r in medians(rows):
        sim = TARGET_REQUESTS * r["ms_per_request"] / 1000 / UTILISATION
        locust = TARGET_REQUESTS * r["locust_ms_per_request"] / 1000 / UTILISATION
        pg = TARGET_REQUESTS * r["pg_ms_per_request"] / 1000 / UTILISATION if r["pg_ms_per_request"] else 0
        name = f"{r['kind']} · {r['store']}"
        pg_cores = f"{pg:.1f}" if pg else "-"
        print(f"{name:>30} {sim:11.1f} {locust:7.1f} {pg_cores:>11} {math.ceil(sim):>10}")


def medians(rows: list[dict]) -> list[dict]:
    """Each configuration's costs, the median over its rounds."""
    costs = ("ms_per_request", "locust_ms_per_request", "pg_ms_per_request")
    out = []
    for key in dict.fromkeys((r["kind"], r["store"]) for r in rows):
        runs = [r for r in rows if (r["kind"], r["store"]) == key]
        out.append(
            {"kind": key[0], "store": key[1]}
            | {c: statistics.median(r[c] for r in runs) if runs[0][c] is not None else None for c in costs}
        )
    return out


if __name__ == "__main__":
    main()
