from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from yidi.simulators.app import Options, Simulation
from yidi.simulators.his import His, Hospital


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running simulator (real uvicorn on a real port) and handles to speak to it."""

    sim: Simulation
    url: str
    server: uvicorn.Server

    @property
    def roster(self) -> dict[str, Any]:
        return self.sim.roster()

    def hospital(self, code: str) -> Hospital:
        entry = next(h for p in self.roster["provinces"] for h in p["hospitals"] if h["fixmedins_code"] == code)
        return Hospital.from_roster(entry)

    def his(self, code: str, **kw: Any) -> His:
        his = His(self.sim.wire, self.hospital(code), **kw)
        his.sign_in()
        return his

    def card(self, key: str) -> dict[str, Any]:
        return httpx.get(f"{self.url}/cards/{key}").json()

    def items(self, province: str, n: int = 6, *, quantity: float = 2) -> list[tuple[str, float, float]]:
        catalog = self.sim.topology.provinces[province].catalog.values()
        return [(e.item.code, quantity, float(e.item.price)) for e in list(catalog)[:n]]

    def faults(self, *faults: str, mutants: tuple[str, ...] = ()) -> None:
        httpx.post(f"{self.url}/admin/faults", json={"faults": list(faults), "mutants": list(mutants)}).raise_for_status()


def serve(options: Options, port: int | None = None) -> tuple[Served, threading.Thread]:
    port = port or free_port()
    options.base_url = f"http://127.0.0.1:{port}"
    sim = Simulation(options)
    server = uvicorn.Server(uvicorn.Config(sim.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the simulator did not start")
        time.sleep(0.02)
    return Served(sim, options.base_url, server), thread


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A fresh simulator with its own database, per test."""
    handle, thread = serve(Options(db=f"sqlite:///{tmp_path / 'state.db'}"))
    yield handle
    handle.server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(autouse=True)
def no_simulator_bugs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail any test during which a simulator hit an unexpected error or tried to emit an invalid
    answer: the gateway turns those into -1 answers, so a test could otherwise pass over them."""
    caplog.set_level(logging.ERROR, logger="yidi.simulators")
    yield
    bugs = [r.getMessage() for r in caplog.records if r.name == "yidi.simulators" and r.levelno >= logging.ERROR]
    assert bugs == [], bugs
