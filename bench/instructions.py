"""Instructions per 9001 sign-in through the simulators' ASGI app, and through the bare endpoint.

    python bench/instructions.py [--messages 512]

Runs itself under valgrind's callgrind (Debian: apt-get install valgrind), which counts the
instructions of the measured part only: the same count on every run, whatever else the machine is
doing. On this shared VM, timings of one change drift by ±10 % from run to run; an instruction count
tells a 1 % change apart. It is not a timing: work that waits on memory or the kernel (SQLite's WAL
writes, cache misses) costs more time per instruction than the rest, so confirm with
bench/simulators.py. Both apps run in this process, 32 messages in flight, group commit on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from yidi.actors.his import His, Hospital
from yidi.simulators.app import Options, Simulation
from yidi.specs import transport

sys.path.insert(0, str(Path(__file__).parent))
from bare_app import app as bare_app
from gateway_stages import asgi_call


def collect(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], capture_output=True)


async def measure(which: str, n: int) -> None:
    """Under callgrind: the n messages' instructions, collected alone."""
    sim = Simulation(Options(db=f"sqlite:///{tempfile.mkdtemp(prefix='yidi-instructions-')}/state.db"))
    app: Any = sim.app() if which == "full" else bare_app
    sim.store.group_commit(asyncio.get_running_loop())
    entry = sim.roster()["provinces"][0]["hospitals"][0]
    his = His(sim.wire, Hospital.from_roster(entry))

    def batch(k: int) -> list[tuple[dict[str, str], bytes]]:
        def one() -> tuple[dict[str, str], bytes]:
            message = his.message("9001", {"signIn": his.node("9001", "signIn", opter_no="0001")})
            signed = transport.sign_headers(sim.wire, entry["paasid"], entry["secret"], now=time.time())
            return signed, orjson.dumps(message)

        return [one() for _ in range(k)]

    async def run(requests: list[tuple[dict[str, str], bytes]]) -> None:
        for i in range(0, len(requests), 32):
            calls = [asgi_call(app, "/gw/510000/9001", h, b) for h, b in requests[i : i + 32]]
            await asyncio.gather(*(asyncio.create_task(c) for c in calls))
        await sim.store.durable()

    await run(batch(64))  # warm: caches filled, statements prepared
    requests = batch(n)
    collect(True)
    await run(requests)
    collect(False)


def count(which: str, n: int) -> float:
    out = Path(tempfile.mkdtemp(prefix="yidi-callgrind-")) / "callgrind.out"
    callgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    run = subprocess.run(
        [*callgrind, sys.executable, __file__, "--inside", which, "--messages", str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    total = re.search(r"refs:\s+([\d,]+)", run.stderr)
    if total is None:
        sys.exit(f"callgrind printed no count:\n{run.stderr[-2000:]}")
    shutil.rmtree(out.parent, ignore_errors=True)
    return int(total.group(1).replace(",", "")) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=512)
    parser.add_argument("--inside", choices=("full", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        asyncio.run(measure(args.inside, args.messages))
        return
    if not shutil.which("valgrind"):
        sys.exit("needs valgrind (Debian: apt-get install valgrind)")
    full, bare = count("full", args.messages), count("bare", args.messages)
    print(f"instructions per 9001 through the ASGI app, {args.messages} messages, 32 in flight")
    print(f"{'full stack':24} {full:10,.0f}")
    print(f"{'bare Starlette endpoint':24} {bare:10,.0f}")
    print(f"{'bare / full':24} {bare / full:10.3f}")


if __name__ == "__main__":
    main()
