"""Assemble a topology into running nodes and serve them as one ASGI application.

    POST /gw/{province}/{infno}            a province's hospital gateway (also /gw/{province}/fsi/api/…)
    POST /hub/{infno}                      the national hub (from provinces)
    POST /prov/{province}/{infno}          a province's insured endpoint (from the hub, and filing Y25xx)
    GET  /cards/{key} · /admin/…           cards, roster, health, clock, faults, flush, prepayment (admin.py)

``only`` serves a subset (``hub``, ``province:510000``); the rest is reached at ``peers`` by URL, so
a real system can stand in for any node.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from ..actors import admin
from ..specs import loader
from ..specs.model import Spec
from ..world import topology
from ..world.clock import Clock
from ..world.roster import roster
from ..world.topology import Topology
from . import partition, proclink
from .admin import Admin
from .asgi import MessageRoutes
from .faults import Fault, Faults
from .gateway import Node, Observer, World
from .hub import HubNode
from .insured.node import InsuredNode
from .links import HttpLink, Link, LocalLink, Peer
from .store import Store
from .treatment.node import TreatmentNode

PRODUCT = "yidi 参考模拟器 reference simulators"

log = logging.getLogger("yidi.simulators")


@dataclass
class Options:
    world: Path | None = None  # the world file; None: the embedded one
    db: str = "sqlite:///yidi-state.db"
    spec: str | None = None  # version+profile on the wire, e.g. V1.1+guangzhou
    faults: list[str] = field(default_factory=list)
    mutants: list[str] = field(default_factory=list)
    only: list[str] = field(default_factory=list)  # hub, province:510000; empty: everything
    peers: dict[str, str] = field(default_factory=dict)  # node name → base URL when not served here
    clock: datetime | None = None
    base_url: str = "http://127.0.0.1:8000"  # what the roster tells testers
    host: str = "127.0.0.1"  # the interface served on: the link to yidi's other processes listens there too
    link_port: int = 0  # where yidi's other processes connect (proclink); 0: any free port
    recovery_seconds: float = 10.0  # how often stranded claims are reversed and details sent
    # answers checked against the spec before they leave (an invalid one is a logged bug, answered -1):
    # on for yidi's own tests; off where the simulators play a system under test, as a real one has none
    self_check: bool = True
    max_body: int = 8 * 1024 * 1024  # bytes a message may have; a longer one is refused unread (E2010)
    admin_token: str | None = None  # the credential /admin/… needs; None: a new one (Simulation.admin_token)
    crowd: int | None = None  # at least this many persons in the load crowd (yidi load asks for its rate)


class Simulation:
    """Every node of a topology, wired together, over one store and one clock."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.admin_token = options.admin_token or admin.new_token()
        self.topology: Topology = topology.load(options.world, crowd=options.crowd)
        self.wire: Spec = loader.load(options.spec)
        self.spec: Spec = loader.load(version=self.wire.version)  # handlers speak the base shapes
        self.store = Store(options.db)
        self.clock = Clock()
        saved = self.store.setting("clock")
        if options.clock or (not saved and self.topology.clock):
            self.clock.set(options.clock or self.topology.clock)  # type: ignore[arg-type]
            self.save_clock()
        elif saved:
            self.clock.restore(saved)
        self.faults = Faults([Fault.parse(f) for f in options.faults], set(options.mutants))
        self.faults.checked = options.self_check
        self.http = httpx.AsyncClient(timeout=30)
        self.channels: dict[str, proclink.Channel] = {}  # the links to yidi's other processes, by origin
        self.link_server: asyncio.Server | None = None  # where those processes connect to this one
        self.insured: dict[str, InsuredNode] = {}
        self.treatment: dict[str, TreatmentNode] = {}
        self.hub: HubNode | None = None
        accounts = self.topology.accounts()
        world = World(self.topology, self.spec, self.store, self.clock, self.faults)
        insured_accounts = {a.paasid: a for a in (self.topology.hub, self.topology.agency)}
        for admdvs, province in self.topology.provinces.items():
            if not self.serves(f"province:{admdvs}"):
                continue
            own = {**insured_accounts, province.platform.paasid: province.platform}
            self.insured[admdvs] = InsuredNode(province, world, own)
            self.treatment[admdvs] = TreatmentNode(province, world, self.wire, self.insured[admdvs])
        if self.serves("hub"):
            platforms = {p.platform.paasid: p.platform for p in self.topology.provinces.values()}
            self.hub = HubNode(world, platforms)
        self._wire_links(accounts)

    def serves(self, name: str) -> bool:
        return not self.options.only or name in self.options.only

    def link(self, name: str, local: Node | None) -> Link:
        if local is not None:
            return LocalLink(name, lambda: local)
        base = self.options.peers.get(name)
        if base is None:
            raise ValueError(f"{name} is not served here: give --peer {name}=URL")
        yidi = name in partition.bases(self.options.peers)  # one of yidi's own processes: the link
        return HttpLink(name, base, self.http, self.channels if yidi else None)

    def link_port(self) -> int | None:
        if self.link_server is None or not self.link_server.sockets:
            return None
        return int(self.link_server.sockets[0].getsockname()[1])

    def _wire_links(self, accounts: Mapping[str, Any]) -> None:
        def peer(link: Link, account: Any, name: str, admdvs: str, caller: str) -> Peer:
            return Peer(
                link,
                self.spec,
                account,
                name=name,
                admdvs=admdvs,
                clock=self.clock,
                faults=self.faults,
                caller=caller,
                store=self.store,
            )

        for admdvs, node in self.treatment.items():
            platform = self.topology.provinces[admdvs].platform
            name = self.topology.provinces[admdvs].name + "医保信息平台"
            node.own = peer(
                self.link(f"insured:{admdvs}", self.insured[admdvs]),
                platform,
                name,
                admdvs,
                node.name,
            )
            node.hub = peer(self.link("hub", self.hub), platform, name, admdvs, node.name)
        if self.hub is not None:
            for admdvs in self.topology.provinces:
                target = self.insured.get(admdvs)
                link = (
                    self.link(f"province:{admdvs}", target)
                    if target or f"province:{admdvs}" in self.options.peers
                    else None
                )
                if link is not None:
                    self.hub.peers[admdvs] = peer(
                        link, self.topology.hub, "国家异地就医结算系统", "000000", "hub"
                    )

    # ── serving ────────────────────────────────────────────────────

    def save_clock(self) -> None:
        self.store.put_setting("clock", self.clock.state())

    def processes(self) -> list[str]:
        """The base URLs of the deployment's other processes (yidi's own peers), one each."""
        return sorted(set(partition.bases(self.options.peers).values()))

    async def recover(self) -> int:
        return sum([await node.recover() for node in self.treatment.values()])

    async def housekeeping(self) -> dict[str, int]:
        """What the platforms do in the background: reverse stranded claims, send details after the fact."""
        return {
            "recovered": await self.recover(),
            "details_sent": sum([await node.send_details() for node in self.treatment.values()]),
        }

    async def keep_house(self) -> None:
        """Housekeeping every ``recovery_seconds``, for as long as the server runs."""
        while True:
            await asyncio.sleep(self.options.recovery_seconds)
            try:
                await self.housekeeping()
            except Exception:
                log.exception("housekeeping failed; trying again later")

    def roster(self) -> dict[str, Any]:
        # what the system is, for a certificate of it (a SUT's own roster says the same of itself)
        system = {"product": PRODUCT, "version": version("yidi")}
        bases = partition.bases(self.options.peers)
        return roster(self.topology, self.options.base_url, self.wire.ref, bases) | {"system": system}

    def observe(self, observer: Observer) -> Callable[[], None]:
        """Watch every hospital gateway (what HIS clients send, what they are answered); returns how to stop.
        The observer runs on the serving loop: it must be quick."""
        for node in self.treatment.values():
            node.observers.append(observer)

        def stop() -> None:
            for node in self.treatment.values():
                if observer in node.observers:
                    node.observers.remove(observer)

        return stop

    def app(self) -> MessageRoutes:
        service_paths = {t.service_path: t.infno for t in self.wire.transactions.values() if t.service_path}

        @functools.lru_cache(maxsize=1024)  # a few paths carry every message: each is resolved once
        def route(path: str) -> tuple[Node, str] | None:
            kind, _, rest = path[1:].partition("/")
            if kind == "hub":
                node: Node | None = self.hub
                infno = rest
            else:
                province, _, infno = rest.partition("/")
                node = (self.treatment if kind == "gw" else self.insured).get(province)
                if kind == "gw":
                    infno = service_paths.get("/" + infno, infno)
            return None if node is None else (node, infno)

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            self.store.group_commit(asyncio.get_running_loop())
            self.link_server = await proclink.listen(route, self.options.host, self.options.link_port)
            recovered = await self.recover()
            if recovered:
                log.warning("recovered %d visit(s) left mid-call by a previous run", recovered)
            task = asyncio.create_task(self.keep_house())
            yield
            task.cancel()
            await self.http.aclose()
            for channel in self.channels.values():
                await channel.close()
            self.link_server.close()
            self.store.close()

        rest = Starlette(routes=Admin(self).routes(), lifespan=lifespan)
        return MessageRoutes(route, ("/gw/", "/hub/", "/prov/"), rest, self.options.max_body, self.link_port)

    def set_faults(self, body: Mapping[str, Any]) -> Faults:
        """Replace the faults and mutants in every node (the nodes share one Faults object)."""
        new = Faults(
            [Fault.parse(f) if isinstance(f, str) else Fault(**f) for f in body.get("faults", [])],
            set(body.get("mutants", [])),
        )
        self.faults.faults, self.faults.mutants = new.faults, new.mutants
        return self.faults
