"""The simulators partitioned over processes (or machines): the hub in one, the provinces in groups in the
others, each process serving its own nodes on its own port and reaching the rest at their URLs.

    yidi serve --workers 3              the hub, and the provinces in two groups: three processes
    yidi serve --workers 2 --hub-beside  the provinces in two groups, the hub beside the smaller one
    yidi load --serve-workers 3 …       the same, under load; the ledger read from every process's books

Every process is an ordinary ``yidi serve --only … --peer NAME=URL …``: the nodes it does not serve are
reached over one link per process (``links``, ``proclink``), and its roster names the true URL of
every node (the peers' bases, :func:`bases`), so a HIS — and Locust — sends each hospital's messages
straight to the process serving its province: no front in the way, which would cost every message a second
HTTP hop.

State: on SQLite each process keeps its own file (``state.db`` → ``state-hub.db``, ``state-1.db`` …); on
PostgreSQL they share the one database (every row names the node that owns it, and a node lives in one
process). ``books`` reads the ledger from all of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import httpx
import typer

from ..actors import admin
from ..world import topology

HUB = "hub"

HubAlone = Annotated[  # the layout option of `yidi serve --workers` and `yidi load --serve-workers`
    bool,
    typer.Option(
        "--hub-alone/--hub-beside",
        help="Partitioned: the hub in a process of its own, or beside the smallest province group.",
    ),
]


def bases(peers: Mapping[str, str]) -> dict[str, str]:
    """Where each node not served here is, as the base URL of its process: from the peers' URLs, when they
    are yidi's own paths (``…/hub``, ``…/prov/{admdvs}``); a real system at another path is left out."""
    found = {}
    for name, url in peers.items():
        url = url.rstrip("/")
        suffix = "/hub" if name == HUB else f"/prov/{name.partition(':')[2]}"
        if url.endswith(suffix):
            found[name] = url.removesuffix(suffix)
    return found


def groups(provinces: Sequence[str], workers: int, *, hub_alone: bool = True) -> list[list[str]]:
    """The nodes of each process, the hub's first: the hub alone, then the provinces dealt in turn to
    ``workers - 1`` groups (``province:{admdvs}``: its hospitals' gateway and its insured platform); or,
    not ``hub_alone``, the provinces dealt to all ``workers`` and the hub beside the smallest group.

    Beside a group, the hub relays the messages of that group's provinces without crossing to another
    process: a message that crosses wakes a process that may be asleep, which costs more than the link
    (README, "Where a partition's extra CPU goes")."""
    if workers < 2:
        raise ValueError("a partitioned deployment has at least two processes")
    share = min(workers - 1 if hub_alone else workers, len(provinces))
    dealt: list[list[str]] = [[f"province:{p}" for p in provinces[i::share]] for i in range(share)]
    if hub_alone:
        return [[HUB], *dealt]
    smallest, *rest = dealt[::-1]
    return [[HUB, *smallest], *rest]


def database_for(db: str, index: int) -> str:
    """A process's database: on SQLite a file of its own beside the one named (the hub's ``-hub``, the
    province groups' ``-1``, ``-2`` …), elsewhere the one database, shared."""
    if not db.startswith("sqlite:///"):
        return db
    path = Path(db.removeprefix("sqlite:///"))
    tag = "hub" if index == 0 else str(index)
    suffix = path.suffix or ".db"
    return f"sqlite:///{path.with_name(f'{path.stem}-{tag}{suffix}')}"


@dataclass
class Process:
    nodes: list[str]
    port: int
    db: str
    url: str
    popen: subprocess.Popen[bytes] | None = None


@dataclass
class Deployment:
    """The processes of one partitioned deployment on this machine."""

    processes: list[Process] = field(default_factory=list)
    token: str | None = None  # the credential of every process's /admin endpoints, once started

    @property
    def url(self) -> str:
        """Where to ask for the roster (any process serves the whole of it): the hub's process."""
        return self.processes[0].url

    @property
    def databases(self) -> list[str]:
        return list(dict.fromkeys(p.db for p in self.processes))

    @property
    def pids(self) -> list[int]:
        return [p.popen.pid for p in self.processes if p.popen is not None]

    def flush(self) -> None:
        """Every process's housekeeping, now: stranded claims reversed, details sent."""
        for p in self.processes:
            httpx.post(
                f"{p.url}/admin/flush", timeout=60, headers=admin.headers(self.token)
            ).raise_for_status()


def plan(
    provinces: Sequence[str],
    workers: int,
    *,
    db: str,
    ports: Sequence[int],
    host: str = "127.0.0.1",
    hub_alone: bool = True,
) -> Deployment:
    """Which nodes each process serves, on which port, with which database."""
    nodes = groups(provinces, workers, hub_alone=hub_alone)
    if len(ports) < len(nodes):
        raise ValueError(f"{len(nodes)} processes need {len(nodes)} ports")
    return Deployment(
        [
            Process(group, port, database_for(db, i), f"http://{host}:{port}")
            for i, (group, port) in enumerate(zip(nodes, ports, strict=False))
        ]
    )


def command(deployment: Deployment, process: Process, bind: str, extra: Sequence[str]) -> list[str]:
    """``yidi serve`` for one process: its nodes, and every other node as a peer at its process's URL."""
    cmd = [sys.executable, "-m", "yidi", "serve", "--port", str(process.port), "--host", bind]
    cmd += ["--public-url", process.url, "--db", process.db, *extra]
    for node in process.nodes:
        cmd += ["--only", node]
    for other in deployment.processes:
        if other is process:
            continue
        for node in other.nodes:
            path = "hub" if node == HUB else f"prov/{node.partition(':')[2]}"
            cmd += ["--peer", f"{node}={other.url}/{path}"]
    return cmd


@contextmanager
def running(
    deployment: Deployment,
    *,
    token: str,
    bind: str = "127.0.0.1",
    extra: Sequence[str] = (),
    logs: Path | None = None,
) -> Iterator[Deployment]:
    """Start every process (the hub's first: it makes the tables a shared database lacks), wait until each
    answers, and stop them all at the end (SIGTERM: each commits what it holds). Every process takes
    ``token`` as its admin credential, from its environment (never on a command line)."""
    deployment.token = token
    env = {**os.environ, admin.ENV: token}
    started: list[Process] = []
    files = []
    try:
        for i, p in enumerate(deployment.processes):
            out = None
            if logs is not None:
                log = logs / f"simulators-{'hub' if i == 0 else i}.log"
                out = log.open("w", encoding="utf-8")
                files.append(out)
            p.popen = subprocess.Popen(
                command(deployment, p, bind, extra),
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                env=env,
            )
            started.append(p)
            if i == 0:
                admin.wait_until_up(p.url, token, p.popen, log=logs and logs / "simulators-hub.log")
        for i, p in enumerate(started[1:], start=1):
            admin.wait_until_up(p.url, token, p.popen, log=logs and logs / f"simulators-{i}.log")
        yield deployment
    finally:
        for p in reversed(started):  # provinces first: the hub answers their last calls
            if p.popen is not None and p.popen.poll() is None:
                p.popen.terminate()
                try:
                    p.popen.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.popen.kill()
        for f in files:
            f.close()


def serve(
    workers: int,
    *,
    db: str,
    host: str,
    port: int,
    world: Path | None,
    extra: Sequence[str],
    admin_token: str | None = None,
    public_host: str | None = None,
    hub_alone: bool = True,
) -> None:
    """``yidi serve --workers N``: the partitioned deployment on ports ``port`` … ``port + N - 1`` until
    Ctrl-C (or SIGTERM); every process takes ``admin_token`` (a new one, printed, if none is given) and is
    named in every roster at ``public_host`` (default: the host it binds, loopback for every interface)."""
    import signal  # a foreground command only

    t = topology.load(world)
    public = public_host or ("127.0.0.1" if host in ("0.0.0.0", "::") else host)
    ports = range(port, port + workers)
    deployment = plan(list(t.provinces), workers, db=db, ports=ports, host=public, hub_alone=hub_alone)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    token = admin_token or admin.new_token()
    world_file = ["--world", str(world)] if world else []
    with running(deployment, token=token, bind=host, extra=[*extra, *world_file]):
        for p in deployment.processes:
            print(f"  {p.url}  {' '.join(p.nodes)}  state {p.db}", file=sys.stderr)
        print(
            f"  roster → {deployment.url}/admin/roster (every node at its true URL); Ctrl-C stops",
            file=sys.stderr,
        )
        if not admin_token:  # printed to the operator only
            print(
                f"  admin token → {token}  (/admin/… needs it: {admin.ENV}=… or --admin-token)",
                file=sys.stderr,
            )
        try:
            while not stop.wait(1):
                if any(p.popen is not None and p.popen.poll() is not None for p in deployment.processes):
                    raise SystemExit("a simulators process ended; stopping the others")
        except KeyboardInterrupt:
            pass
