"""Where a simulated message's time goes: each stage of the gateway pipeline, timed alone, in process.

    python bench/gateway_stages.py [--messages 3000]

For the next person making the simulators faster: bench/simulators.py says how fast the whole stack is
over HTTP; this says which stage of a 9001 sign-in to attack. Figures are µs per message; the last
lines put the whole pipeline (32 messages in flight, group commit) beside a bare Starlette call.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from yidi.actors.his import His, Hospital
from yidi.simulators.app import Options, Simulation
from yidi.simulators.gateway import Context, digest
from yidi.specs import transport
from yidi.specs.validate import validate

sys.path.insert(0, str(Path(__file__).parent))
from bare_app import app as bare_app


def per_item(run: Callable[[Any], Any], items: Iterable[Any]) -> tuple[float, list[Any]]:
    items = list(items)
    start = time.perf_counter()
    out = [run(x) for x in items]
    return (time.perf_counter() - start) / len(items) * 1e6, out


async def asgi_call(app: Any, path: str, headers: dict[str, str], body: bytes) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(_: Any) -> None:
        return None

    await app(scope, receive, send)


async def main(n: int) -> None:
    sim = Simulation(Options(db=f"sqlite:///{tempfile.mkdtemp(prefix='yidi-stages-')}/state.db"))
    entry = sim.roster()["provinces"][0]["hospitals"][0]
    his, node = His(sim.wire, Hospital.from_roster(entry)), sim.treatment["510000"]
    account = node.accounts[entry["paasid"]]

    def batch() -> tuple[list[dict[str, Any]], list[dict[str, str]], list[bytes]]:
        messages = [
            his.message("9001", {"signIn": his.node("9001", "signIn", opter_no="0001")}) for _ in range(n)
        ]
        headers = [
            transport.sign_headers(sim.wire, entry["paasid"], entry["secret"], now=time.time())
            for _ in range(n)
        ]
        return messages, headers, [orjson.dumps(m) for m in messages]

    sim.store.group_commit(asyncio.get_running_loop())
    messages, headers, bodies = batch()
    figures: dict[str, float] = {}
    figures["parse JSON"], _ = per_item(orjson.loads, bodies)
    figures["verify signature and nonce"], _ = per_item(node.verify, headers)
    figures["validate request (spec + rules)"], _ = per_item(
        lambda m: validate(sim.wire, m, infno="9001"), messages
    )
    figures["idempotency lookup"], _ = per_item(lambda m: node.stored(m["msgid"]), messages)
    figures["context"], contexts = per_item(
        lambda m: Context(
            node,
            m,
            m["msgid"],
            node.adapter.to_base("9001", "input", m["input"]),
            "9001",
            account,
            node.clock.now(),
        ),
        messages,
    )
    figures["digest"], _ = per_item(digest, messages)
    output = {"signinoutb": {"sign_time": "2026-11-23 09:00:00", "sign_no": "5100002026112309000000000001"}}
    figures["answer: envelope + validation"], _ = per_item(
        lambda c: node.respond("9001", 0, output=output, received=c.now), contexts
    )
    start = time.perf_counter()
    for ctx in contexts:
        await node.handlers["9001"](ctx)
    figures["handler: sign-in row + answer + record"] = (time.perf_counter() - start) / n * 1e6
    await sim.store.durable()

    messages, headers, bodies = batch()
    start = time.perf_counter()
    for i in range(0, n, 32):
        await asyncio.gather(*(node.handle(headers[j], bodies[j], "9001") for j in range(i, min(i + 32, n))))
    figures["whole pipeline (node.handle, 32 in flight)"] = (time.perf_counter() - start) / n * 1e6

    messages, headers, bodies = batch()
    app = sim.app()
    start = time.perf_counter()
    for i in range(0, n, 32):
        await asyncio.gather(
            *(
                asyncio.create_task(asgi_call(app, "/gw/510000/9001", headers[j], bodies[j]))
                for j in range(i, min(i + 32, n))
            )
        )
    figures["through the ASGI app (no HTTP)"] = (time.perf_counter() - start) / n * 1e6
    start = time.perf_counter()
    for i in range(0, n, 32):
        await asyncio.gather(
            *(asgi_call(bare_app, "/x", headers[j], bodies[j]) for j in range(i, min(i + 32, n)))
        )
    figures["bare Starlette endpoint (no HTTP)"] = (time.perf_counter() - start) / n * 1e6
    await sim.store.durable()

    for name, value in figures.items():
        print(f"{name:46} {value:8.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    asyncio.run(main(parser.parse_args().messages))
