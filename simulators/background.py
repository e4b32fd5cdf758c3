"""The simulators served on a real port from a background thread: for ``yidi demo`` and for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from ..actors import admin
from ..actors.his import His, Hospital
from .app import Options, Simulation


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running simulator (uvicorn on a real port) and handles to speak to it over HTTP."""

    sim: Simulation
    url: str
    server: uvicorn.Server

    @property
    def roster(self) -> dict[str, Any]:
        return self.sim.roster()

    @property
    def admin(self) -> dict[str, str]:
        """The header that opens its /admin endpoints."""
        return admin.headers(self.sim.admin_token)

    def hospital(self, code: str) -> Hospital:
        entry = next(
            h for p in self.roster["provinces"] for h in p["hospitals"] if h["fixmedins_code"] == code
        )
        return Hospital.from_roster(entry)

    def his(self, code: str, **kw: Any) -> His:
        """A signed-in HIS client of this hospital."""
        his = His(self.sim.wire, self.hospital(code), **kw)
        his.sign_in()
        return his

    def card(self, key: str) -> dict[str, Any]:
        card: dict[str, Any] = httpx.get(f"{self.url}/cards/{key}").raise_for_status().json()
        return card

    def items(self, province: str, n: int = 6, *, quantity: float = 2) -> list[tuple[str, float, float]]:
        """The first ``n`` items of a province's catalog, at their price."""
        catalog = self.sim.topology.provinces[province].catalog.values()
        return [(e.item.code, quantity, float(e.item.price)) for e in list(catalog)[:n]]

    def faults(self, *faults: str, mutants: tuple[str, ...] = ()) -> None:
        httpx.post(
            f"{self.url}/admin/faults",
            json={"faults": list(faults), "mutants": list(mutants)},
            headers=self.admin,
        ).raise_for_status()

    def stop(self) -> None:
        self.server.should_exit = True


def config(sim: Simulation, host: str, port: int) -> uvicorn.Config:
    """How the simulators are served: no access log and no proxy-header rewriting, which would cost
    every message time and tell a simulator nothing."""
    return uvicorn.Config(
        sim.app(), host=host, port=port, log_level="warning", access_log=False, proxy_headers=False
    )


def start(
    options: Options, port: int | None = None, host: str = "127.0.0.1", public_url: str | None = None
) -> tuple[Served, threading.Thread]:
    """Serve in a daemon thread; returns once the server accepts connections. ``host`` 0.0.0.0 lets a real
    system on another machine reach it (a tester's HIS, with --sut-role his --sut-url manual);
    ``public_url`` is the base URL the roster tells it (behind NAT or a proxy), else this host's name."""
    # with no port given, one is bound here and handed to uvicorn: a port chosen, then bound by the server
    # later, can be taken meanwhile by another process (another test's server, a link's listener)
    sockets = None
    if port is None:
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, 0))
        port, sockets = int(listener.getsockname()[1]), [listener]
    options.base_url = (public_url or "").rstrip("/") or (
        f"http://{socket.gethostname() if host == '0.0.0.0' else host}:{port}"
    )
    options.host = host
    sim = Simulation(options)
    server = uvicorn.Server(config(sim, host, port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the simulators did not start on port {port}")
        time.sleep(0.02)
    return Served(sim, f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}", server), thread


@contextmanager
def serving(
    options: Options, port: int | None = None, host: str = "127.0.0.1", public_url: str | None = None
) -> Iterator[Served]:
    served, thread = start(options, port, host, public_url)
    try:
        yield served
    finally:
        served.stop()
        thread.join(timeout=10)
