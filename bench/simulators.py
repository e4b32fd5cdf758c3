"""Throughput of the full simulator stack against a bare ASGI endpoint, and whole episodes per second.

    python bench/simulators.py [--rounds 5] [--seconds 3] [--connections 32]

Both servers run on core 0 (taskset); wrk drives them from core 1, so the load generator is not the
bottleneck. The bare endpoint and the full stack are measured in turn, a slice each per round, so that
the machine's drift (a shared, noisy VM) touches both alike; the ratio is of the totals. Every request
carries a unique msgid and its own valid x-tif signature (nonces are never reused), so the full stack
does all its work: signature, spec validation of request and answer, idempotency record, state in
SQLite (committed before answering), answer. The bare endpoint, served by uvicorn with the same
settings, gets the very same requests (9001 messages, signed alike), parses the JSON body and answers a
small envelope; it is also measured with a minimal body ({"msgid": …}, as this bench did until
2026-11-23), which it parses a fifth faster. Episodes: Python HIS clients on core 1 run whole
cross-province inpatient episodes; afterwards the ledger is checked (every settlement once at
treatment, hub, insured).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
# the served simulators' admin credential (handed over in the environment; an older yidi ignores it)
os.environ.setdefault("YIDI_ADMIN_TOKEN", secrets.token_urlsafe(24))
ADMIN = {"authorization": f"Bearer {os.environ['YIDI_ADMIN_TOKEN']}"}
CORE_SERVER, CORE_LOAD = "0", "1"
LOCAL = {"510000": "P09", "500000": "P18", "610000": "P27", "330000": "P34", "110000": "P42"}  # insured here


def pinned(core: str, *cmd: str) -> list[str]:
    return (
        ["taskset", "-c", core, *cmd]
        if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1
        else list(cmd)
    )


def wait(url: str) -> None:
    for _ in range(300):
        try:
            httpx.post(url, content=b"{}", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def signatures(path: Path, senders: list[tuple[str, str]], count: int) -> None:
    """(timestamp, nonce, signature) per request: what wrk cannot compute."""
    ts = str(int(time.time()))
    with path.open("w") as f:
        for i, (_paasid, secret) in enumerate(senders, start=1):
            for _ in range(count):
                nonce = secrets.token_hex(8)
                sig = hashlib.sha256(f"{ts}{secret}{nonce}{ts}".encode()).hexdigest()
                f.write(f"{i}\t{ts}\t{nonce}\t{sig}\n")


def run_wrk(
    url: str, senders_file: Path, sigs_file: Path, seconds: int, connections: int
) -> tuple[float, int]:
    out = subprocess.run(
        pinned(
            CORE_LOAD,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(HERE / "wrk.lua"),
            url,
            "--",
            str(senders_file),
            str(sigs_file),
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout).group(1))  # type: ignore[union-attr]
    not_ok = int(re.search(r"NOT-OK (\d+)", out.stdout).group(1))  # type: ignore[union-attr]
    return rate, not_ok


def senders_for(
    roster: dict, infno: str, sign_nos: dict[str, str]
) -> list[tuple[list[str], tuple[str, str]]]:
    from yidi.specs import examples, loader

    spec = loader.load(roster["spec"])
    rows = []
    for province in roster["provinces"]:
        person = next(p for p in roster["persons"] if p["key"] == LOCAL[province["admdvs"]])
        for h in province["hospitals"]:
            msg = examples.request(
                spec,
                infno,
                fixmedins_code=h["fixmedins_code"],
                fixmedins_name=h["name"],
                mdtrtarea_admvs=h["admdvs"],
                insuplc_admdvs="",
                sign_no=sign_nos[h["fixmedins_code"]],
                msgid="@MSGID@",
            )
            if infno == "1101":
                msg["input"] = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person["certno"]}}
            head, tail = json.dumps(msg, ensure_ascii=False, separators=(",", ":")).split("@MSGID@")
            rows.append(
                (
                    [h["fixmedins_code"], f"/gw/{province['admdvs']}/{infno}", h["paasid"], head, tail],
                    (h["paasid"], h["secret"]),
                )
            )
    return rows


def measure_messages(
    url: str, roster: dict, sign_nos: dict[str, str], infno: str, args: argparse.Namespace, work: Path
) -> tuple[float, int]:
    rows = senders_for(roster, infno, sign_nos)
    senders_file, sigs_file = work / f"senders-{infno}.tsv", work / f"sigs-{infno}.tsv"
    senders_file.write_text("".join("\t".join(r) + "\n" for r, _ in rows), encoding="utf-8")
    signatures(sigs_file, [s for _, s in rows], args.seconds * 20000 // len(rows) + 1000)
    return run_wrk(url, senders_file, sigs_file, args.seconds, args.connections)


def serve_asgi(app: str, port: int, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """An ASGI app of bench/ on the server core, served as the simulators are (simulators/background.py):
    no access log, no proxy-header rewriting."""
    proc = subprocess.Popen(
        pinned(
            CORE_SERVER,
            sys.executable,
            "-m",
            "uvicorn",
            app,
            f"--port={port}",
            "--log-level=warning",
            "--no-access-log",
            "--no-proxy-headers",
        ),
        cwd=HERE,
        env=env,
    )
    return proc, f"http://127.0.0.1:{port}"


def serve(work: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = 18000 + secrets.randbelow(2000)
    proc = subprocess.Popen(
        pinned(
            CORE_SERVER,
            sys.executable,
            "-m",
            "yidi",
            "serve",
            "--port",
            str(port),
            "--db",
            f"sqlite:///{work}/state-{port}.db",
            *extra,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/admin/health", timeout=1, headers=ADMIN).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("yidi serve did not start")


def sign_in_all(url: str, roster: dict) -> dict[str, str]:
    from yidi.actors.his import His, Hospital
    from yidi.specs import loader

    spec = loader.load(roster["spec"])
    return {
        h["fixmedins_code"]: His(spec, Hospital.from_roster(h)).sign_in()
        for p in roster["provinces"]
        for h in p["hospitals"]
    }


EPISODE_DRIVER = r"""
import json, sys, threading, time
import httpx
from yidi.actors.his import His, Hospital
from yidi.world import topology
from yidi.specs import loader
url, seconds, workers = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
import os
token = os.environ["YIDI_ADMIN_TOKEN"]
roster = httpx.get(f"{url}/admin/roster", headers={"authorization": f"Bearer {token}"}).json()
spec = loader.load(roster["spec"])
t = topology.load()
# cross-province pairs from the roster's scenarios: (person, hospital in the province they are filed for)
pairs = [("P01", "H50000000001"), ("P12", "H51010000001"), ("P21", "H50000000002"), ("P30", "H51010000002"),
         ("P38", "H51010000003"), ("P02", "H33010000001"), ("P13", "H11000000001"), ("P20", "H33010000002")]
hospitals = {h["fixmedins_code"]: h for p in roster["provinces"] for h in p["hospitals"]}
done, failed, lock = [], [], threading.Lock()
deadline = time.monotonic() + seconds
def worker(k):
    person, code = pairs[k % len(pairs)]
    his = His(spec, Hospital.from_roster(hospitals[code]), client=httpx.Client(timeout=60))
    card = httpx.get(f"{url}/cards/{person}").json()
    province = t.provinces[code[1:3] + "0000"]
    items = [(e.item.code, 1, float(e.item.price)) for e in list(province.catalog.values())[:8]]
    while time.monotonic() < deadline:
        try:
            his.inpatient_episode(card, items, cert_type="02")
            with lock: done.append(1)
        except Exception as e:
            with lock: failed.append(repr(e)[:200])
threads = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
start = time.monotonic()
for th in threads: th.start()
for th in threads: th.join()
print(json.dumps({"episodes": len(done), "seconds": time.monotonic() - start, "failed": failed[:3],
                  "failures": len(failed)}))
"""


def measure_episodes(url: str, seconds: int, workers: int) -> dict:
    out = subprocess.run(
        pinned(CORE_LOAD, sys.executable, "-c", EPISODE_DRIVER, url, str(seconds), str(workers)),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def ledger(db: Path) -> dict[str, int]:
    from sqlalchemy import create_engine, func, select

    from yidi.simulators.store import hub_records, insured_settlements, settlements, visits

    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:

        def count(table: Any, *where: Any) -> int:
            return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()

        return {
            "treatment": count(settlements, settlements.c.kind == "settle"),
            "insured": count(insured_settlements, insured_settlements.c.kind == "settle"),
            "hub": count(hub_records),
            "half_done": count(visits, visits.c.state.in_(["settling", "cancelling", "reversing"])),
        }


def measure_small(url: str, args: argparse.Namespace, work: Path) -> tuple[float, int]:
    """The bare endpoint with a minimal body ({"msgid": …}), as this bench measured it until 2026-11-23."""
    senders_file, sigs_file = work / "bare.tsv", work / "bare-sigs.tsv"
    senders_file.write_text("\t".join(["H00000000000", "/gw/x/1101", "p", '{"msgid":"', '"}']) + "\n")
    signatures(sigs_file, [("p", "s")], args.seconds * 40000)
    return run_wrk(url, senders_file, sigs_file, args.seconds, args.connections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="length of one slice")
    parser.add_argument("--rounds", type=int, default=5, help="slices of each, taken in turn")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=8, help="HIS threads for the episode run")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("needs wrk (Debian: apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="yidi-bench-"))
    kinds = ("bare", "small", "9001", "1101")
    done: dict[str, list[tuple[float, int]]] = {k: [] for k in kinds}

    bare, bare_url = serve_asgi("bare_app:app", 17000 + secrets.randbelow(900))
    proc, url = serve(work)
    try:
        wait(f"{bare_url}/x")
        roster = httpx.get(f"{url}/admin/roster", headers=ADMIN).json()
        sign_nos = sign_in_all(url, roster)
        for _ in range(args.rounds):  # in turn, so that the machine's drift touches each alike
            # the baseline gets the very requests the full stack gets: 9001 messages, signed alike
            done["bare"].append(measure_messages(bare_url, roster, sign_nos, "9001", args, work))
            done["small"].append(measure_small(bare_url, args, work))
            for infno in kinds[2:]:
                done[infno].append(measure_messages(url, roster, sign_nos, infno, args, work))
    finally:
        for p in (bare, proc):
            p.terminate()
            p.wait()

    proc, url = serve(work)
    db = next(work.glob(f"state-{url.rsplit(':', 1)[1]}.db"))
    try:
        episodes = measure_episodes(url, args.rounds * args.seconds, args.workers)
    finally:
        proc.terminate()
        proc.wait()
    books = ledger(db)

    rate = {k: sum(r for r, _ in v) / len(v) for k, v in done.items()}
    print(
        f"one server core, wrk on the other; {args.connections} connections; "
        f"{args.rounds} rounds of {args.seconds} s slices, bare and full stack in turn"
    )
    print(f"{'what':48} {'req/s':>7} {'× bare':>7}  {'each round':24} not ok")
    for kind, title in (
        ("bare", "bare ASGI endpoint (parse JSON, answer)"),
        ("small", "bare ASGI endpoint, minimal body"),
        ("9001", "full stack: 9001 sign-in (writes state)"),
        ("1101", "full stack: 1101 person info (via insured)"),
    ):
        rounds = " ".join(f"{r / b:.2f}" for (r, _), (b, _) in zip(done[kind], done["bare"], strict=True))
        not_ok = sum(n for _, n in done[kind])
        print(f"{title:48} {rate[kind]:7.0f} {rate[kind] / rate['bare']:7.2f}  {rounds:24} {not_ok}")
    print(f"full stack 9001 against the minimal-body bare endpoint: {rate['9001'] / rate['small']:.2f}×")
    per_second = episodes["episodes"] / episodes["seconds"]
    print(
        f"cross-province inpatient episodes/s ({args.workers} HIS threads, 9 calls each): {per_second:.1f}"
        f"  (failed {episodes['failures']} {episodes['failed']})"
    )
    consistent = books["treatment"] == books["insured"] == books["hub"] and not books["half_done"]
    print(f"ledger after the episodes: {books}  {'OK' if consistent else 'MISMATCH'}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
