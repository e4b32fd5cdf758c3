"""The floor under the simulators' speed: what a 9001 costs when its work is done with no pipeline.

    python bench/floor.py [--rounds 6] [--seconds 3]

Serves on core 0, with uvicorn as the simulators are served, and drives from core 1 with wrk, in turn,
with the very same signed 9001 messages (as bench/simulators.py does):

  bare      the bare Starlette endpoint (parse the JSON body, answer)
  parse     this file's ASGI app inside a whole Simulation process: parse the body, answer
  checks    everything a 9001 must do but keep state: signature, time window and nonce, request
            validation (schema and rules), the idempotency filter, the answer envelope and its
            validation, the digest
  state     and the state: a unit of work, the sign-in row, the idempotency record, the group commit
  yidi      the simulators as they are

parse, checks and state call yidi's own parts (transport, validate, envelope, store) one after
another, with none of the pipeline between them (message routes, Context, faults and mutants,
adapters, observers, answer()). The gap from state to yidi is what the pipeline costs; the gap from
checks to state is what SQLite costs. Needs wrk (Debian package).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODES = ("parse", "checks", "state")


def floor_app(mode: str, db: str, base_url: str) -> Any:
    import orjson

    from yidi.simulators.app import Options, Simulation
    from yidi.simulators.gateway import digest
    from yidi.specs import envelope, examples, transport
    from yidi.specs.validate import validate

    sim = Simulation(Options(db=db, base_url=base_url))
    spec, store, rest = sim.wire, sim.store, sim.app()
    template = examples.body(spec, "9001", "output")["signinoutb"]
    json = [(b"content-type", b"application/json")]

    async def answer(send: Any, body: dict[str, Any]) -> None:
        content = orjson.dumps(body)
        length = (b"content-length", str(len(content)).encode())
        await send({"type": "http.response.start", "status": 200, "headers": [*json, length]})
        await send({"type": "http.response.body", "body": content})

    async def app(scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if not (path.startswith("/gw/") and path.endswith("/9001")):
            return await rest(scope, receive, send)  # roster, health, lifespan (group commit)
        message = orjson.loads((await receive())["body"])
        if mode == "parse":
            return await answer(send, {"infcode": 0, "output": {"echo": message.get("msgid")}})
        node = sim.treatment[path.split("/")[2]]
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.startswith(b"x-tif-")}
        checked = transport.verify(
            spec, headers, secret_for=node._secret, now=time.time(), nonce_seen=node.nonces.seen_before
        )
        msgid, now = message["msgid"], sim.clock.now()
        assert checked is None and validate(spec, message, infno="9001").valid and node.stored(msgid) is None
        sign_no = node.new_id(now)
        output = {"signinoutb": {**template, "sign_time": envelope.datetime_text(now), "sign_no": sign_no}}
        body = envelope.response(
            spec,
            infcode=0,
            refmsgid=node.refmsgids(now),
            received=now,
            responded=sim.clock.now(),
            output=output,
        )
        assert validate(spec, body, infno="9001", response=True).valid
        node.answered.add(msgid)
        if mode == "state":
            code = message["fixmedins_code"]
            with store.begin() as conn:
                store.q.sign_in.run(
                    conn, node=node.name, sign_no=sign_no, fixmedins_code=code,
                    opter_no=message["input"]["signIn"]["opter_no"], signed_out=False, sim_time=now,
                )  # fmt: skip
                store.q.record.run(
                    conn, node=node.name, msgid=msgid, infno="9001", digest=digest(message), sender=code,
                    response=body, effect=None, sim_time=now,
                )  # fmt: skip
            await store.durable()
        else:
            digest(message)
        await answer(send, body)

    return app


if os.environ.get("YIDI_FLOOR"):  # imported by uvicorn as floor:app
    app = floor_app(os.environ["YIDI_FLOOR"], os.environ["YIDI_FLOOR_DB"], os.environ["YIDI_FLOOR_URL"])


def main() -> None:
    import httpx

    from simulators import ADMIN, measure_messages, serve, serve_asgi, sign_in_all, wait

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    args.connections = 32
    if not shutil.which("wrk"):
        sys.exit("needs wrk (Debian: apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="yidi-floor-"))
    port = 17000 + secrets.randbelow(800)
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {"bare": serve_asgi("bare_app:app", port)}
    for i, mode in enumerate(MODES, start=1):
        env = {
            **os.environ,
            "YIDI_FLOOR": mode,
            "YIDI_FLOOR_DB": f"sqlite:///{work}/{mode}.db",
            "YIDI_FLOOR_URL": f"http://127.0.0.1:{port + i}",
        }
        servers[mode] = serve_asgi("floor:app", port + i, env)
    servers["yidi"] = serve(work)
    tick = os.sysconf("SC_CLK_TCK")

    def cpu(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    try:
        wait(f"{servers['bare'][1]}/x")
        for name in MODES:  # the app is built before uvicorn listens: any answer means ready
            wait(f"{servers[name][1]}/admin/health")
        roster = httpx.get(f"{servers['yidi'][1]}/admin/roster", headers=ADMIN).json()
        sign_nos = sign_in_all(servers["yidi"][1], roster)  # 9001 does not read them
        done = {name: [0.0, 0.0] for name in servers}
        for r in range(args.rounds):
            for name in list(servers)[:: 1 if r % 2 == 0 else -1]:  # in turn, both ways round
                proc, url = servers[name]
                before = cpu(proc.pid)
                rate, not_ok = measure_messages(url, roster, sign_nos, "9001", args, work)
                if not_ok:
                    sys.exit(f"{name}: {not_ok} answers were not infcode 0")
                done[name][0] += rate * args.seconds
                done[name][1] += cpu(proc.pid) - before
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait()
    bare = done["bare"][0]
    print(f"9001 on one server core, same signed messages to each; {args.rounds} rounds of {args.seconds} s")
    print(f"{'server':8} {'req/s':>7} {'× bare':>7} {'CPU µs/req':>11}")
    for name, (requests, seconds) in done.items():
        rate, ratio, micros = requests / args.rounds / args.seconds, requests / bare, seconds / requests * 1e6
        print(f"{name:8} {rate:7.0f} {ratio:7.2f} {micros:11.0f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
