"""The HIS client's own CPU per request, as Locust's users run it (gevent), over httpx and over
geventhttpclient (``load/http.py``): whole inpatient episodes against yidi's simulators in a process of
their own.

    python bench/his_client.py [--episodes 150] [--users 8] [--rounds 3]

Only this process's CPU is counted (the simulators run in another): building and signing each message,
sending it, reading and checking the answer. The two transports run in turn, ``--rounds`` times each
(the order flipped each round, so a drift in the machine's load falls on both); the figures are medians,
and the ratio is what to read.
"""

from gevent import monkey

monkey.patch_all()  # as Locust does, before anything opens a socket

import argparse  # noqa: E402
import random  # noqa: E402
import ssl  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Mapping  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import httpx  # noqa: E402

from yidi.actors import admin  # noqa: E402
from yidi.actors.his import His, Hospital, Reply, card_read  # noqa: E402
from yidi.load import bills  # noqa: E402
from yidi.load.http import Gateways  # noqa: E402
from yidi.load.users import pairs  # noqa: E402
from yidi.simulators.background import free_port  # noqa: E402
from yidi.specs import loader  # noqa: E402
from yidi.world import topology  # noqa: E402

TLS = ssl.create_default_context()
TRANSPORTS: dict[str, Callable[[], Any]] = {
    # as load/users.py's HisUser had it
    "httpx": lambda: httpx.Client(timeout=60, verify=TLS, limits=httpx.Limits(keepalive_expiry=2)),
    "geventhttpclient": lambda: Gateways(timeout=60, tls=TLS, keepalive_expiry=2),
}


class Counted(His):
    sent = 0

    def send(self, message: Mapping[str, Any], *, headers: Mapping[str, str] | None = None) -> Reply:
        Counted.sent += 1
        return super().send(message, headers=headers)


def episodes(roster: dict[str, Any], make: Callable[[], Any], count: int, users: int) -> tuple[float, int]:
    """CPU seconds and requests for ``count`` inpatient episodes over ``users`` greenlets."""
    spec = loader.load(roster.get("spec"))
    hospitals = {h["fixmedins_code"]: h for p in roster["provinces"] for h in p["hospitals"]}
    people = {p["key"]: p for p in (*roster["persons"], *roster.get("crowd", ()))}
    found = pairs(roster)
    world = topology.load()
    catalogs: dict[str, list[tuple[str, float]]] = {}

    def catalog(code: str) -> list[tuple[str, float]]:
        if code not in catalogs:
            province = world.province_of(world.hospital(code).admdvs)  # type: ignore[union-attr]
            catalogs[code] = [(e.item.code, float(e.item.price)) for e in province.catalog.values()]  # type: ignore[union-attr]
        return catalogs[code]

    def user(n: int) -> None:
        http, rng, desks = make(), random.Random(n), {}
        for i in range(n, count, users):
            key, code = found[i % len(found)]
            if code not in desks:
                desks[code] = Counted(spec, Hospital.from_roster(hospitals[code]), client=http)
            his = desks[code]
            his.inpatient_episode(card_read(people[key]), bills.inpatient(catalog(code), rng), batch=20)
        http.close()

    for code in {c for _, c in found}:
        catalog(code)
    Counted.sent, cpu = 0, time.process_time()
    gevent.joinall([gevent.spawn(user, n) for n in range(users)], raise_error=True)
    return time.process_time() - cpu, Counted.sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--episodes", type=int, default=150, help="inpatient episodes per transport and round"
    )
    parser.add_argument("--users", type=int, default=8, help="greenlets, each with its own client")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=list(TRANSPORTS), help="one transport only (to profile it)")
    args = parser.parse_args()
    token, port = admin.new_token(), free_port()
    work = Path(tempfile.mkdtemp(prefix="yidi-his-client-"))
    crowd = str(max(2 * args.users, 100))
    cmd = [sys.executable, "-m", "yidi", "serve", "--port", str(port), "--db", f"sqlite:///{work}/state.db"]
    log = (work / "serve.log").open("w")
    server = subprocess.Popen(
        [*cmd, "--crowd", crowd, "--admin-token", token], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        admin.wait_until_up(url, token, server, log=work / "serve.log")
        roster = httpx.get(f"{url}/admin/roster", timeout=60, headers=admin.headers(token)).json()
        episodes(roster, TRANSPORTS["httpx"], args.users, args.users)  # warm up: sign-ins, imports, caches
        names = [args.only] if args.only else list(TRANSPORTS)
        costs: dict[str, list[float]] = {name: [] for name in names}
        print(f"{args.episodes} inpatient episodes over {args.users} users per run; CPU of the HIS side only")
        for n in range(args.rounds):
            for name in names if n % 2 == 0 else names[::-1]:
                cpu, sent = episodes(roster, TRANSPORTS[name], args.episodes, args.users)
                costs[name].append(1e6 * cpu / max(sent, 1))
                print(f"round {n + 1} {name:>16}: {sent} requests, {costs[name][-1]:6.0f} µs CPU a request")
        if args.only:
            return
        base, new = (statistics.median(costs[k]) for k in TRANSPORTS)
        cheaper = f"{base / new:.2f}× cheaper"
        print(f"median a request: httpx {base:.0f} µs, geventhttpclient {new:.0f} µs: {cheaper}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


if __name__ == "__main__":
    main()
