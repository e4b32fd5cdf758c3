"""``yidi serve``, ``yidi roster``, ``yidi mutants``, ``yidi his`` and ``yidi clear``: the simulators' command
line."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

import typer
import uvicorn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from ..actors import admin
from ..actors.admin import AdminToken
from ..specs.console import console as rich_console
from ..world import topology as topology_module
from ..world.cli import WorldFile
from . import partition
from .app import Options, Simulation
from .background import config as serving_config
from .background import serving
from .faults import FAULTS, MUTANTS

out = rich_console()
err = rich_console(stderr=True)


def _peers(values: list[str]) -> dict[str, str]:
    pairs = [v.split("=", 1) for v in values]
    if any(len(p) != 2 for p in pairs):
        raise typer.BadParameter("--peer takes NAME=URL, e.g. hub=http://10.0.0.5:8000/hub")
    return dict(pairs)


def _public_host(url: str) -> str:
    """The host a partitioned deployment is published at: each process keeps its own port (--port …)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or parts.port or parts.path.strip("/") or not parts.hostname:
        raise typer.BadParameter(
            f"{url!r}: with --workers every process is published at its own port (--port, --port + 1 …): "
            "give the host only, e.g. --public-url http://sim.example.org"
        )
    return parts.hostname


def serve(
    world: WorldFile = None,
    db: Annotated[
        str, typer.Option(help="SQLAlchemy URL: sqlite:///file.db (default) or postgresql+psycopg://…")
    ] = "sqlite:///yidi-state.db",
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    spec: Annotated[
        str | None, typer.Option("--spec", help="Version and profile on the wire, e.g. V1.0+guangzhou.")
    ] = None,
    fault: Annotated[
        list[str], typer.Option("--fault", help="NAME[:SCOPE][=VALUE][*TIMES]; see yidi mutants.")
    ] = [],  # noqa: B006
    mutant: Annotated[
        list[str], typer.Option("--mutant", help="A deliberately wrong behaviour; see yidi mutants.")
    ] = [],  # noqa: B006
    only: Annotated[
        list[str], typer.Option("--only", help="Serve only these nodes: hub, province:510000.")
    ] = [],  # noqa: B006
    peer: Annotated[
        list[str], typer.Option("--peer", help="Where a node not served here is: NAME=URL.")
    ] = [],  # noqa: B006
    clock: Annotated[
        datetime | None, typer.Option(help="Start the simulated clock here (ISO date-time).")
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(
            "--admin-token",
            envvar=admin.ENV,
            show_default=False,
            help="The credential /admin/… needs (Authorization: Bearer TOKEN); default: a new one, printed.",
        ),
    ] = None,
    max_body: Annotated[
        int, typer.Option(help="Bytes a message may have; a longer one is refused unread (E2010).")
    ] = Options.max_body,
    crowd: Annotated[
        int | None, typer.Option(help="At least this many persons in the load crowd (yidi load sets it).")
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Processes: the hub in one, the provinces in groups in the others.")
    ] = 1,
    public_url: Annotated[
        str | None,
        typer.Option(help="The base URL a HIS should use (the roster's gateways), e.g. behind a proxy."),
    ] = None,
    link_port: Annotated[
        int, typer.Option(help="Where yidi's other processes connect to this one (0: any free port).")
    ] = 0,
    hub_alone: partition.HubAlone = True,
) -> None:
    """Start the simulators (national hub, provinces, hospitals' gateways, card reader) in one server, or
    partitioned over --workers processes (the hub, and the provinces in groups, on ports PORT …)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if workers > 1:
        if only or peer:
            raise typer.BadParameter("--workers partitions every node itself: no --only or --peer with it")
        if link_port:
            raise typer.BadParameter("--workers: each process takes a free link port; --link-port is for one")
        extra = [*(["--spec", spec] if spec else []), *(["--clock", clock.isoformat()] if clock else [])]
        extra += [*(f"--fault={f}" for f in fault), *(f"--mutant={m}" for m in mutant)]
        extra += ["--crowd", str(crowd)] if crowd else []
        extra += [f"--max-body={max_body}"]
        partition.serve(
            workers,
            db=db,
            host=host,
            port=port,
            world=world,
            extra=extra,
            admin_token=admin_token,
            public_host=_public_host(public_url) if public_url else None,
            hub_alone=hub_alone,
        )
        return
    local = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    base_url = (public_url or "").rstrip("/") or local
    try:
        sim = Simulation(
            Options(
                world=world,
                db=db,
                spec=spec,
                faults=fault,
                mutants=mutant,
                only=only,
                peers=_peers(peer),
                clock=clock,
                base_url=base_url,
                host=host,
                link_port=link_port,
                admin_token=admin_token,
                max_body=max_body,
                crowd=crowd,
            )
        )
    except ValueError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    except SQLAlchemyError as e:  # no such driver, a database that is not there: one line, not a traceback
        err.print(f"[red]--db {db}: {str(e).splitlines()[0]}[/red]")
        raise typer.Exit(2) from None
    r = sim.roster()
    err.print(f"yidi simulators · {r['topology']} · spec {r['spec']} · state {sim.store.url}")
    for p in r["provinces"]:
        if sim.serves(f"province:{p['admdvs']}"):
            gateway = p["hospitals"][0]["gateway"]
            err.print(f"  {p['name']:6} hospitals → {gateway}/{{infno}}  insured → {p['insured_url']}")
    if sim.hub:
        err.print(f"  国家平台 hub → {r['hub']['url']}/{{infno}}")
    err.print(
        f"  roster → {base_url}/admin/roster · cards → {base_url}/cards/{{P01…}} · "
        f"faults {sim.faults.state()}"
    )
    if admin_token:
        err.print(f"  admin → {base_url}/admin/… with the credential given ({admin.ENV} or --admin-token)")
    else:  # printed to the operator only: clients give it as --admin-token or YIDI_ADMIN_TOKEN
        err.print(f"  admin token → {sim.admin_token}  (/admin/… needs it: {admin.ENV}=… or --admin-token)")
    err.print(f"  for yidi roster / yidi his: export YIDI_URL={base_url}")
    err.print(
        f"  平台时间 clock {sim.clock.now():%Y-%m-%d %H:%M:%S}: a HIS's times more than 10 min past it"
        " are refused (E4012); --clock sets it (a real HIS: --clock of today's time)"
    )
    uvicorn.Server(serving_config(sim, host, port)).run()


def demo(
    url: Annotated[
        str | None, typer.Option(help="Simulators already running here; default: start them.")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            help="State for the simulators started here; default: a fresh SQLite file in a temporary folder."
        ),
    ] = None,
    stay: Annotated[
        bool, typer.Option("--serve", help="Keep serving after the demo (Ctrl-C stops).")
    ] = False,
    admin_token: AdminToken = None,
) -> None:
    """A first joint test: cross-province and local episodes, a retry, a cancellation, refusals; over HTTP."""
    from .demo import Demo, Outcome

    def show(outcome: Outcome) -> None:
        mark = "[green]✔[/green]" if outcome.passed else "[red]✘[/red]"
        out.print(f" {mark} {outcome.title} · {outcome.person} @ {outcome.hospital}\n     {outcome.detail}")

    with contextlib.ExitStack() as stack:
        if url is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="yidi-demo-"))
            options = Options(db=db or f"sqlite:///{folder}/state.db", admin_token=admin_token)
            served = stack.enter_context(serving(options))
            url, t, admin_token = served.url, served.sim.topology, served.sim.admin_token
            out.print(f"yidi simulators serving at {url} (roster: {url}/admin/roster)")
            if stay and not options.admin_token:
                err.print(
                    f"  admin token → {admin_token}  (/admin/… needs it: {admin.ENV}=… or --admin-token)"
                )
        else:
            t = topology_module.load()
        with out.status("joint test running…"):
            outcomes = Demo(url, t, admin_token=admin_token).run(show)
        first = next((o.episode for o in outcomes if o.episode is not None), None)
        if first is not None:
            table = Table(
                title=f"messages of the first episode · mdtrt_id {first.mdtrt_id}", title_justify="left"
            )
            for column in ("infno", "msgid", "infcode", "ms"):
                table.add_column(column)
            for r in first.replies:
                table.add_row(r.infno, r.msgid, str(r.infcode), f"{r.seconds * 1000:.0f}")
            out.print(table)
        passed = sum(o.passed for o in outcomes)
        colour = "green" if passed == len(outcomes) else "red"
        out.print(f"[{colour}]{passed}/{len(outcomes)} scenarios as expected[/{colour}]")
        if stay:
            out.print(f"serving at {url}; Ctrl-C stops")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    if passed != len(outcomes):
        raise typer.Exit(1)


def mutants() -> None:
    """The faults a test team can switch on, and the mutants the suites must catch."""
    table = Table(title="faults (--fault NAME[:SCOPE][=VALUE][*TIMES])", title_justify="left")
    for column in ("name", "中文", "what"):
        table.add_column(column)
    for name, kind in FAULTS.items():
        table.add_row(name, kind.zh, kind.en)
    out.print(table)
    table = Table(title="mutants (--mutant NAME): deliberately wrong behaviours", title_justify="left")
    for column in ("name", "rule", "中文", "what"):
        table.add_column(column)
    for name, kind in MUTANTS.items():
        table.add_row(name, kind.rule, kind.zh, kind.en)
    out.print(table)
