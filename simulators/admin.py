"""What a person or a test calls beside the messages: cards, the roster, health, and the clock, faults and
funds a test team turns. Every ``/admin`` endpoint needs the server's admin credential
(``Authorization: Bearer TOKEN``, ../actors/admin.py): the roster holds every secret, and the clock, the
mutants and the funds change what the platforms answer. A card is what any reader gives, and needs none.

    GET  /cards/{key}          what reading a test person's card gives a HIS
    GET  /admin/roster         what a tester needs: regions, hospitals' gateways and credentials, persons
    GET  /admin/health         the nodes served, the spec, the clock, the faults and mutants on
    GET  /admin/clock          the simulated clock; POST {"set": …, "freeze": …} or {"advance_seconds": …},
                               moved in every process of a partitioned deployment
    GET  /admin/faults         faults and mutants on, and those known; POST replaces them
    POST /admin/flush          reverse stranded claims and send details after the fact, now
    POST /admin/prepayment     resize a prepayment fund (hub)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..actors import admin
from ..specs.model import Spec
from ..specs.money import cents
from ..world.clock import Clock
from ..world.roster import read_card
from ..world.topology import Topology
from .faults import FAULTS, MUTANTS, Faults
from .gateway import Node
from .hub import HubNode
from .store import Store

Endpoint = Callable[[Request], Awaitable[Response]]
FORWARDED = "x-yidi-forwarded"  # a change another process of the deployment passed on: not passed on again


class Simulated(Protocol):
    """What the endpoints read and turn of a simulation (app.Simulation, which serves them)."""

    topology: Topology
    wire: Spec
    admin_token: str
    clock: Clock
    store: Store
    faults: Faults
    http: httpx.AsyncClient

    @property
    def hub(self) -> HubNode | None: ...

    @property
    def treatment(self) -> Mapping[str, Node]: ...

    @property
    def insured(self) -> Mapping[str, Node]: ...

    def roster(self) -> dict[str, Any]: ...

    def save_clock(self) -> None: ...

    def processes(self) -> list[str]: ...

    async def housekeeping(self) -> dict[str, int]: ...

    def set_faults(self, body: Mapping[str, Any]) -> Faults: ...


class Admin:
    """The card and admin endpoints of one simulation, as Starlette routes (:meth:`routes`)."""

    def __init__(self, sim: Simulated) -> None:
        self.sim = sim

    def routes(self) -> list[Route]:
        guarded = self.guarded
        return [
            Route("/cards/{key}", self.card),
            Route("/admin/roster", guarded(self.roster)),
            Route("/admin/health", guarded(self.health)),
            Route("/admin/clock", guarded(self.clock), methods=["GET", "POST"]),
            Route("/admin/faults", guarded(self.faults), methods=["GET", "POST"]),
            Route("/admin/flush", guarded(self.flush), methods=["POST"]),
            Route("/admin/prepayment", guarded(self.prepayment), methods=["POST"]),
        ]

    def guarded(self, endpoint: Endpoint) -> Endpoint:
        """The endpoint, for a request that presents the admin credential; else 401 and nothing done."""

        async def run(request: Request) -> Response:
            if not admin.presented(request.headers.get("authorization"), self.sim.admin_token):
                return JSONResponse(
                    {
                        "detail": "需要管理凭证 the admin credential is required: Authorization: "
                        "Bearer TOKEN (yidi serve prints it; clients take --admin-token or YIDI_ADMIN_TOKEN)"
                    },
                    status_code=401,
                    headers={"www-authenticate": 'Bearer realm="yidi admin"'},
                )
            return await endpoint(request)

        return run

    async def card(self, request: Request) -> Response:
        person = self.sim.topology.person(request.path_params["key"])
        if person is None:
            return JSONResponse({"detail": "no such person"}, status_code=404)
        return JSONResponse(read_card(person))

    async def roster(self, request: Request) -> Response:
        return JSONResponse(self.sim.roster())

    async def health(self, request: Request) -> Response:
        sim = self.sim
        return JSONResponse(
            {
                "status": "ok",
                "spec": sim.wire.ref,
                "nodes": sorted(
                    [
                        *(n.name for n in sim.treatment.values()),
                        *(n.name for n in sim.insured.values()),
                        *(["hub"] if sim.hub else []),
                    ]
                ),
                "clock": sim.clock.state(),
                **sim.faults.state(),
            }
        )

    async def clock(self, request: Request) -> Response:
        sim = self.sim
        if request.method == "POST":
            try:
                body = orjson.loads(await request.body())
                when = datetime.fromisoformat(body["set"]) if "set" in body else None
                step = (
                    timedelta(seconds=float(body["advance_seconds"])) if "advance_seconds" in body else None
                )
            except (ValueError, TypeError) as e:
                return JSONResponse(
                    {
                        "detail": 'want {"set": "2026-12-31T23:59:00", "freeze": false} or '
                        f'{{"advance_seconds": 86400}}: {e}'
                    },
                    status_code=400,
                )
            if when is not None:
                sim.clock.set(when, freeze=bool(body.get("freeze")))
            if step is not None:
                sim.clock.advance(step)
            sim.save_clock()
            await sim.store.durable()
            if FORWARDED not in request.headers:
                return JSONResponse(sim.clock.state() | await self.forward(request.url.path, body))
        return JSONResponse(sim.clock.state())

    async def forward(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The same change in the deployment's other processes: a partitioned yidi keeps one simulated time
        (each process its own faults, taken where they fire). Each process's outcome, for the caller."""
        sim, done = self.sim, {}
        headers = {**admin.headers(sim.admin_token), FORWARDED: "1"}
        for base in sim.processes():
            try:
                got = await sim.http.post(f"{base}{path}", json=body, headers=headers)
                done[base] = "ok" if got.status_code == 200 else f"HTTP {got.status_code}"
            except httpx.HTTPError as e:
                done[base] = f"unreachable: {e!r}"
        return {"processes": done} if done else {}

    async def faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.sim.set_faults(orjson.loads(await request.body()))
            except (ValueError, TypeError, AttributeError) as e:
                return JSONResponse({"detail": str(e)}, status_code=400)
        return JSONResponse(
            {**self.sim.faults.state(), "known": {"faults": list(FAULTS), "mutants": list(MUTANTS)}}
        )

    async def flush(self, request: Request) -> Response:
        done = await self.sim.housekeeping()
        await self.sim.store.durable()  # answered only once what it did is committed
        return JSONResponse(done)

    async def prepayment(self, request: Request) -> Response:
        """Resize a fund (a test team's lever: a small fund is used up by a few stays)."""
        hub, store = self.sim.hub, self.sim.store
        if hub is None:
            return JSONResponse({"detail": "the hub is not served here"}, status_code=404)
        try:
            body = orjson.loads(await request.body())
            insured, treatment, size = str(body["insured"]), str(body["treatment"]), cents(body["size"])
        except (ValueError, TypeError, KeyError) as e:
            return JSONResponse(
                {"detail": f'want {{"insured": "510000", "treatment": "500000", "size": 10000}}: {e}'},
                status_code=400,
            )
        with store.begin() as conn:
            if hub.funds.fund(conn, insured, treatment) is None:
                return JSONResponse({"detail": f"no fund of {insured} at {treatment}"}, status_code=404)
            hub.funds.resize(conn, insured, treatment, size, self.sim.clock.now())
            fund = hub.funds.fund(conn, insured, treatment)
        await store.durable()
        return JSONResponse(fund)
