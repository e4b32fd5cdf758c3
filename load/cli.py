"""``yidi load``: Locust against the built-in simulators (or a SUT by URL) following a load shape, then the
ledger check; ``yidi clear``: the month-end clearing after days of load. Locust runs in its own process (it
patches the standard library for gevent), and so do the simulators."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from ..actors import admin
from ..actors.admin import AdminToken
from ..actors.his import Refused
from ..simulators import books, partition
from ..simulators.background import free_port
from ..specs import loader
from ..specs.console import console as rich_console
from ..specs.model import Spec
from ..world import topology
from ..world.cli import WorldFile
from . import clearing, ledger, shapes, slo

console = rich_console()
LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def this_host() -> str:
    """This machine's name as others reach it; where the name does not resolve, the loopback address."""
    try:
        return socket.gethostbyname(socket.gethostname()) and socket.gethostname()
    except OSError:
        return "127.0.0.1"


@contextmanager
def simulators(
    sut: str,
    db: str | None,
    out: Path,
    public: bool = False,
    clock: datetime | None = None,
    world: Path | None = None,
    crowd: int | None = None,
    processes: int = 1,
    admin_token: str | None = None,
    hub_alone: bool = True,
) -> Iterator[tuple[str, books.Databases | None, str | None]]:
    """The base URL to load, the database(s) to check afterwards (none for a SUT of one's own) and the
    credential of its /admin endpoints (``admin_token`` or ``YIDI_ADMIN_TOKEN``; for the simulators started
    here, a new one if none is given, handed over in their environment, not on a command line); ``public``:
    reachable from other machines (workers elsewhere), under this host's name; ``processes`` over 1: the
    simulators partitioned over that many processes (``simulators.partition``; ``hub_alone``: the hub in
    one of them alone, else beside the smallest province group)."""
    if sut != "builtin":  # several databases, comma-separated: a partitioned deployment's
        yield sut.rstrip("/"), (db.split(",") if db and "," in db else db), admin_token or admin.given()
        return
    token = admin_token or admin.given() or admin.new_token()  # one given lets workers be told in advance
    if db is None:  # a fresh default database: the ledger check is about this run
        for old in out.glob("state*.db*"):
            old.unlink()
        db = f"sqlite:///{out.resolve()}/state.db"
    if processes > 1:
        served = partitioned(db, out, public, clock, world, crowd, processes, token, hub_alone)
        with served as (url, databases):
            yield url, databases, token
        return
    port = free_port()
    cmd = [sys.executable, "-m", "yidi", "serve", "--port", str(port), "--db", db]
    cmd += ["--host", "0.0.0.0"] if public else []
    cmd += ["--clock", clock.isoformat()] if clock else []
    cmd += ["--world", str(world.resolve())] if world else []
    cmd += ["--crowd", str(crowd)] if crowd else []
    log = (out / "simulators.log").open("w", encoding="utf-8")
    env = {**os.environ, admin.ENV: token}
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://{this_host() if public else '127.0.0.1'}:{port}"
    opens = admin.headers(token)
    try:
        admin.wait_until_up(url, token, server, log=out / "simulators.log")
        yield url, db, token
        # stranded claims reversed first
        httpx.post(f"{url}/admin/flush", timeout=60, headers=opens).raise_for_status()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@contextmanager
def partitioned(
    db: str,
    out: Path,
    public: bool,
    clock: datetime | None,
    world: Path | None,
    crowd: int | None,
    processes: int,
    token: str,
    hub_alone: bool = True,
) -> Iterator[tuple[str, books.Databases]]:
    """The simulators over ``processes`` processes (the hub, and the provinces in groups): the roster's URL
    and every process's database."""
    provinces = list(topology.load(world).provinces)
    ports = [free_port() for _ in range(processes)]
    host = this_host() if public else "127.0.0.1"
    deployment = partition.plan(provinces, processes, db=db, ports=ports, host=host, hub_alone=hub_alone)
    extra = ["--clock", clock.isoformat()] if clock else []
    extra += ["--world", str(world.resolve())] if world else []
    extra += ["--crowd", str(crowd)] if crowd else []
    bind = "0.0.0.0" if public else "127.0.0.1"
    with partition.running(deployment, token=token, bind=bind, extra=extra, logs=out) as running:
        yield running.url, running.databases
        running.flush()  # stranded claims reversed first


def acknowledged(out: Path) -> list[ledger.Seen]:
    return [
        ledger.Seen(**json.loads(line))
        for f in sorted(out.glob("acknowledged-*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
    ]


def crowd_for(shape: shapes.Shape, users: int | None) -> int:
    """Persons enough for a run: each user holds one for a whole episode (3 users per settlement/s at the
    peak, ``users.CONCURRENCY``), and a refused one is set aside; twice that, so no user waits for one."""
    peak = max(shape.rate(min(t, shape.duration - 0.01)) for t in range(int(shape.duration) + 1))
    return 2 * max(users or 0, math.ceil(3 * peak))


HELD = 0.99  # a run holds its shape when this share of the settlements asked for is done in time (by 5 s
# after its end, the locustfile's GRACE)


def tally(out: Path, asked: int) -> dict[str, Any]:
    """What the Locust processes report (``summary-<pid>.json``), added up, against what the shape asks."""
    parts = [json.loads(f.read_text(encoding="utf-8")) for f in sorted(out.glob("summary-*.json"))]
    total = {key: sum(p[key] for p in parts) for key in ("done", "in_time", "requests", "cpu_s")}
    return {
        **total,
        "asked": asked,
        "behind_s": max((p["behind_s"] for p in parts), default=0.0),
        "held": total["in_time"] >= HELD * asked,
        "requests_per_cpu_s": round(total["requests"] / total["cpu_s"]) if total["cpu_s"] else None,
    }


def worker(master: str, admin_token: str | None = None) -> int:
    """A Locust worker of a ``yidi load`` master elsewhere: it runs its share and reports back (reading the
    roster with the admin credential in its environment, which the master prints)."""
    host, _, port = master.partition(":")
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", host]
    cmd += ["--master-port", port] if port else []
    env = {
        **os.environ,
        "YIDI_LOAD": json.dumps({"join": True}),
        **({admin.ENV: admin_token} if admin_token else {}),
    }
    return subprocess.run(cmd, env=env, check=False).returncode


def targets_table(verdicts: list[slo.Verdict], spec: Spec) -> Table:
    """The service-level targets, one row per request name: each metric against its target, misses in red."""
    table = Table(
        title=f"服务水平目标 service-level targets ({spec.ref}: service.yaml)", title_justify="left"
    )
    for column in ("request", "p95 ms", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column == "request" else "right")
    by_name: dict[str, dict[str, slo.Verdict]] = {}
    for v in verdicts:
        by_name.setdefault(v.name, {})[v.metric] = v

    def cell(v: slo.Verdict | None) -> str:
        if v is None or v.actual is None:
            return "–"
        actual, target = (
            (f"{v.actual:.2%}", f"{v.target:.2%}")
            if v.metric == "errors"
            else (
                f"{v.actual:.0f}",
                f"{v.target:.0f}",
            )
        )
        return f"{actual} ≤ {target}" if v.ok else f"[red]{actual} > {target}[/red]"

    for name, metrics in by_name.items():
        table.add_row(name, *(cell(metrics.get(m)) for m in ("p95", "p99", "errors")))
    return table


def load(
    shape: Annotated[str, typer.Option(help=f"{', '.join(shapes.NAMES)}.")] = "day-2017",
    scale: Annotated[float, typer.Option(help="Multiply the shape's rate.")] = 1.0,
    compress: Annotated[
        float, typer.Option(help="Replay a day this many times faster (1440: in a minute).")
    ] = 1.0,
    rate: Annotated[float, typer.Option(help="Settlements/s of the flat shape.")] = 1.0,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    users: Annotated[
        int | None, typer.Option(help="HIS users (default: enough for the shape's rate).")
    ] = None,
    sut: Annotated[
        str, typer.Option(help="The SUT's base URL, or builtin: yidi's own simulators.")
    ] = "builtin",
    db: Annotated[
        str | None,
        typer.Option(help="The simulators' database URL (with --sut: its books, comma-separated if many)."),
    ] = None,
    clock: Annotated[
        datetime | None,
        typer.Option(help="Start the simulated clock here (a day of a month: several runs on one --db)."),
    ] = None,
    world: WorldFile = None,
    workers: Annotated[
        int, typer.Option(help="Locust worker processes on this machine (0: one process).")
    ] = 0,
    remote_workers: Annotated[
        int,
        typer.Option(help="Wait for this many workers started elsewhere with --join (Locust's master)."),
    ] = 0,
    master_port: Annotated[
        int, typer.Option(help="The port the master listens on for --remote-workers.")
    ] = 5557,
    join: Annotated[
        str | None,
        typer.Option(help="Be a worker of the yidi load master on this host (the plan comes from it)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where Locust's CSV and HTML reports go.")] = Path("yidi-load"),
    admin_token: AdminToken = None,
    serve_workers: Annotated[
        int,
        typer.Option(
            help="The built-in simulators over this many processes: the hub, and the provinces in groups."
        ),
    ] = 1,
    hub_alone: partition.HubAlone = True,
) -> None:
    """Load a platform with HIS traffic shaped like a real day, then check the ledger (压力测试)."""
    if join:
        raise typer.Exit(worker(join, admin_token))
    try:
        the_shape = shapes.named(shape, scale=scale, compress=compress, duration=duration, rate=rate)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    out.mkdir(parents=True, exist_ok=True)
    for old in (*out.glob("acknowledged-*.jsonl"), *out.glob("summary-*.json")):
        old.unlink()
    settings = {
        "shape": shape,
        "scale": scale,
        "compress": compress,
        "rate": rate,
        "duration": duration,
        "users": users,
        "out": str(out.resolve()),
        "world": str(world.resolve()) if world else None,
    }
    asked = sum(1 for _ in shapes.arrivals(the_shape))
    crowd = crowd_for(the_shape, users)
    served = simulators(
        sut,
        db,
        out,
        public=remote_workers > 0,
        clock=clock,
        world=world,
        crowd=crowd,
        processes=serve_workers,
        hub_alone=hub_alone,
        admin_token=admin_token,
    )
    with served as (url, database, token):
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url]
        cmd += ["--csv", str(out / "locust"), "--html", str(out / "locust.html"), "--only-summary"]
        if workers:  # forked workers reach the master on a port of this run's own
            port = str(free_port())
            cmd += ["--processes", str(workers), "--master-bind-port", port, "--master-port", port]
        if remote_workers:
            cmd += [
                "--master",
                "--expect-workers",
                str(remote_workers),
                "--master-bind-port",
                str(master_port),
            ]
            credential = f"{admin.ENV}={token} " if token else ""
            console.print(
                f"等待 waiting for {remote_workers} worker(s): on each machine, "
                f"[bold]{credential}yidi load --join {this_host()}:{master_port}[/bold]"
            )
        cmd += ["--stop-timeout", "60"]  # an episode in flight at the end finishes: its settlement is seen
        env = {**os.environ, "YIDI_LOAD": json.dumps(settings), **({admin.ENV: token} if token else {})}
        console.print(
            f"压力测试 load · {shape} ×{scale} compress {compress}: {asked} settlements"
            f" in {the_shape.duration:.0f} s → {url}"
        )
        try:
            roster = httpx.get(f"{url}/admin/roster", timeout=60, headers=admin.headers(token))
            spec = loader.load(roster.raise_for_status().json().get("spec"))
        except httpx.HTTPError as e:  # a SUT that is not there: one line, not Locust's run against nothing
            console.print(f"[red]✗[/red] no roster at {url}/admin/roster ({e}): is yidi serve running there?")
            raise typer.Exit(2) from None
        earlier = books.ledger(database) if database else None  # settlements of runs before on this database
        locust = subprocess.run(cmd, env=env, check=False)
    run, seen = tally(out, asked), acknowledged(out)
    stays = [s.fund for s in seen if s.inpatient and not s.cancelled]
    run["fund_per_stay"] = round(sum(stays) / len(stays) / 100) if stays else None
    console.print(f"Locust: {out / 'locust.html'}, {out / 'locust_stats.csv'}")
    console.print(
        f"{'[green]保持 held[/green]' if run['held'] else '[red]未保持 NOT held[/red]'}: {run['in_time']} of"
        f" {run['asked']} settlements done in time ({run['done']} in all), at most {run['behind_s']:.1f} s"
        f" behind; Locust {run['requests_per_cpu_s']} requests per CPU second"
    )
    if stays:
        console.print(f"统筹支付 fund per inpatient settlement: {run['fund_per_stay']:,} yuan (2017: 13,660)")
    verdicts = slo.check(slo.read_stats(out / "locust_stats.csv"), spec)
    console.print(targets_table(verdicts, spec))
    problems = (
        ledger.check(seen, books.ledger(database).after(earlier)) + books.funds(database)
        if database and earlier
        else None
    )
    (out / "summary.json").write_text(
        json.dumps(
            {**settings, **run, "spec": spec.ref, "slo": [asdict(v) for v in verdicts], "ledger": problems},
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    if problems is None:
        console.print("[yellow]账本核对跳过 ledger check skipped: no database of the SUT to read[/yellow]")
    else:
        for problem in problems:
            console.print(f"[red]✗[/red] {problem}")
        if problems:
            console.print(f"[bold red]账本不一致 ledger FAILED[/bold red]: {len(problems)} problem(s)")
        else:
            ok = f"{len(seen)} settlements, once each in every book; the prepayment funds agree"
            console.print(f"[bold green]账本一致 ledger OK[/bold green]: {ok}")
    failed = (
        bool(problems) or not run["held"] or bool(slo.failed(verdicts)) or locust.returncode not in (0, 1)
    )
    raise typer.Exit(1 if failed else 0)


WriteClearing = Callable[[Mapping[str, Any], Path], tuple[Path, Path]]


def clear_command(write: WriteClearing) -> Callable[..., None]:
    """``yidi clear``, writing its document with ``write`` (the reports part's, lent by the yidi command:
    the reports sit above this part)."""

    def clear(
        month: Annotated[str, typer.Option(help="The month to clear, yyyyMM (e.g. 202611).")],
        sut: Annotated[
            str,
            typer.Option(
                help="The hub: builtin (yidi's, on --db) or a hub's base URL serving /admin/roster."
            ),
        ] = "builtin",
        db: Annotated[
            str, typer.Option(help="The simulators' database; by default the last yidi load's.")
        ] = "sqlite:///yidi-load/state.db",
        withhold: Annotated[
            list[str],
            typer.Option("--withhold", help="A province (admdvs) that does not confirm this month."),
        ] = [],  # noqa: B006
        out_dir: Annotated[
            Path, typer.Option("--out", help="Where clearing.json and clearing.html go.")
        ] = Path("yidi-clear"),
        admin_token: AdminToken = None,
    ) -> None:
        """Month-end clearing between provinces (月度清算): statements confirmed and paid, funds, invariants.

        Every province fetches the month's statements from the hub and confirms and pays what it owes."""
        if not re.fullmatch(r"20\d\d(0[1-9]|1[0-2])", month):
            raise typer.BadParameter(f"{month!r}: a month as yyyyMM, e.g. 202611")
        try:
            doc = clearing.month_end(month, sut=sut, db=db, withhold=withhold, admin_token=admin_token)
        except clearing.NoDatabase as e:
            raise typer.BadParameter(str(e)) from None
        except Refused as e:  # the hub's own word: its month not over, a statement it will not issue …
            console.print(f"[red]✗[/red] 国家平台拒绝 the hub refused {escape(str(e))}")
            raise typer.Exit(1) from None
        except httpx.HTTPStatusError as e:  # its roster refused: no admin credential, or a wrong one
            why = "give the yidi server's admin token (--admin-token or YIDI_ADMIN_TOKEN)"
            if e.response.status_code != 401:
                why = escape(str(e))
            console.print(
                f"[red]✗[/red] 未能取得测试名册 {escape(str(e.request.url))} "
                f"answered {e.response.status_code}: {why}"
            )
            raise typer.Exit(2) from None
        json_path, html_path = write(doc, out_dir)
        console.print(clearing.clearing_table(doc))
        for problem in doc["problems"]:
            console.print(f"[red]✗[/red] {problem}")
        for a in doc["alerts"]:
            console.print(f"[yellow]![/yellow] {a['at']} {a['insured']}→{a['treatment']} {a['reason']}")
        pending = sum(s["state"] == "issued" and bool(s["amount"]) for s in doc["statements"])
        verdict = {
            "balanced": "[bold green]平账 balanced[/bold green]: every statement confirmed and paid",
            "pending": f"[bold yellow]待确认 pending[/bold yellow]: {pending} statement(s) not confirmed",
            "unbalanced": f"[bold red]不平 unbalanced[/bold red]: {len(doc['problems'])} problem(s)",
        }[doc["verdict"]]
        console.print(f"{verdict} · {html_path} · {json_path}")
        raise typer.Exit({"balanced": 0, "unbalanced": 1, "pending": 2}[doc["verdict"]])

    return clear
