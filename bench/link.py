"""The link between yidi's processes (simulators/proclink.py): CPU a call at each end, busy and idle.

    python bench/link.py [--calls 3000]

A callee process answers every call at once (a node that only echoes); the caller sends 1.5 KB messages one
after another, first back to back (both processes busy), then idle 2 ms between calls (both fall asleep,
as at a low rate), and prints the CPU each side spent a call. The difference is what waking costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from typing import Any

import httpx
import psutil
import uvicorn
import uvloop

from yidi.simulators import proclink
from yidi.simulators.asgi import MessageRoutes
from yidi.simulators.background import free_port
from yidi.simulators.gateway import Answer

MESSAGE = {"infno": "1101", "msgid": "H" * 30, "input": {"data": {"x": "y" * 1500}}}


class Echo:
    async def handle(self, headers: Any, message: Any, infno: str) -> Answer:
        return Answer(200, {"infcode": 0, "output": message})


def callee(port: int) -> None:
    route = lambda path: (Echo(), "1101")  # noqa: E731
    server: list[asyncio.Server] = []

    async def lifespan(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        server.append(await proclink.listen(route, "127.0.0.1"))  # type: ignore[arg-type]
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    port_of = lambda: server[0].sockets[0].getsockname()[1] if server else None  # noqa: E731
    app = MessageRoutes(route, ("/x/",), lifespan, 1 << 20, port_of)  # type: ignore[arg-type]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop")


async def calls(port: int, n: int, idle: float, server: psutil.Process) -> tuple[float, float]:
    async with httpx.AsyncClient() as client:
        channel = proclink.Channel(f"http://127.0.0.1:{port}", client)
        for _ in range(200):  # connected, warm
            await channel.call("/x/1101", {}, MESSAGE)
        mine, theirs = time.process_time(), sum(server.cpu_times()[:2])
        for _ in range(n):
            await channel.call("/x/1101", {}, MESSAGE)
            if idle:
                time.sleep(idle)  # the loop blocked: not CPU, and the callee falls asleep too
        return (time.process_time() - mine) / n, (sum(server.cpu_times()[:2]) - theirs) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    port = free_port()
    pid = os.fork()
    if pid == 0:
        callee(port)
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_link").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        server = psutil.Process(pid)
        for name, idle in (("busy (back to back)", 0.0), ("idle 2 ms between calls", 0.002)):
            caller, callee_cpu = uvloop.run(calls(port, args.calls, idle, server))
            each = f"caller {caller * 1e6:5.0f} µs a call, callee {callee_cpu * 1e6:5.0f} µs a call"
            print(f"{name:>24}: {each}")
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
