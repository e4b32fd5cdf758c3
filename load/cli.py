"""``yidi load``: Locust against the built-in simulators (or a SUT by URL) following a load shape, then the
ledger check. Locust runs in its own process (it patches the standard library for gevent), and so do the
simulators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from yidi.simulators.background import free_port

from . import ledger, shapes

console = Console(highlight=False)
LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@contextmanager
def simulators(sut: str, db: str | None, out: Path) -> Iterator[tuple[str, str | None]]:
    """The base URL to load and the database to check afterwards (none for a SUT of one's own)."""
    if sut != "builtin":
        yield sut.rstrip("/"), db
        return
    db = db or f"sqlite:///{out.resolve()}/state.db"
    port = free_port()
    cmd = [sys.executable, "-m", "yidi", "serve", "--port", str(port), "--db", db]
    log = (out / "simulators.log").open("w", encoding="utf-8")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/admin/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"the simulators did not start: see {out / 'simulators.log'}")
        yield url, db
        httpx.post(f"{url}/admin/flush", timeout=60).raise_for_status()  # stranded claims reversed first
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def acknowledged(out: Path) -> list[ledger.Seen]:
    return [
        ledger.Seen(**json.loads(line))
        for f in sorted(out.glob("acknowledged-*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
    ]


def load(
    shape: Annotated[str, typer.Option(help="day-2017, day-2025, step or spike.")] = "day-2017",
    scale: Annotated[float, typer.Option(help="Multiply the shape's rate.")] = 1.0,
    compress: Annotated[
        float, typer.Option(help="Replay a day this many times faster (1440: in a minute).")
    ] = 1.0,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    sut: Annotated[
        str, typer.Option(help="The SUT's base URL, or builtin: yidi's own simulators.")
    ] = "builtin",
    db: Annotated[str | None, typer.Option(help="The built-in simulators' database URL.")] = None,
    workers: Annotated[
        int, typer.Option(help="Locust worker processes on this machine (0: one process).")
    ] = 0,
    pacing: Annotated[float, typer.Option(help="Seconds between the starts of one user's episodes.")] = 2.0,
    out: Annotated[Path, typer.Option(help="Where Locust's CSV and HTML reports go.")] = Path("yidi-load"),
) -> None:
    """Load a platform with HIS traffic shaped like a real day, then check the ledger (压力测试)."""
    if shape not in (*shapes.DAYS, "step", "spike"):
        raise typer.BadParameter(f"{shape!r}: one of {', '.join((*shapes.DAYS, 'step', 'spike'))}")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("acknowledged-*.jsonl"):
        old.unlink()
    settings = {"shape": shape, "scale": scale, "compress": compress, "duration": duration, "pacing": pacing}
    with simulators(sut, db, out) as (url, database):
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url]
        cmd += ["--csv", str(out / "locust"), "--html", str(out / "locust.html"), "--only-summary"]
        cmd += ["--processes", str(workers)] if workers else []
        cmd += ["--stop-timeout", "60"]  # an episode in flight at the end finishes: its settlement is seen
        env = {**os.environ, "YIDI_LOAD": json.dumps({**settings, "out": str(out.resolve())})}
        console.print(f"压力测试 load · {shape} ×{scale} compress {compress} → {url}")
        locust = subprocess.run(cmd, env=env, check=False)
    seen = acknowledged(out)
    console.print(
        f"Locust: {out / 'locust.html'}, {out / 'locust_stats.csv'}; 已确认结算 acknowledged: {len(seen)}"
    )
    if database is None:
        console.print("[yellow]账本核对跳过 ledger check skipped: no database of the SUT to read[/yellow]")
        raise typer.Exit(locust.returncode)
    problems = ledger.check(seen, ledger.read(database))
    for problem in problems:
        console.print(f"[red]✗[/red] {problem}")
    if problems:
        console.print(f"[bold red]账本不一致 ledger FAILED[/bold red]: {len(problems)} problem(s)")
        raise typer.Exit(1)
    console.print(
        f"[bold green]账本一致 ledger OK[/bold green]: {len(seen)} settlements, once each in every book"
    )
    raise typer.Exit(0 if locust.returncode in (0, 1) else locust.returncode)
