"""The Locust side of ``yidi load``: hospitals' HIS systems running whole episodes when a shape asks.

``yidi load`` runs ``locust -f locustfile.py`` (which imports this module) with its settings in
``YIDI_LOAD`` (JSON). The shape's settlements arrive at set times (``shapes.arrivals``); a user takes the
next one, waits until it is due and runs the episode, so a slow platform falls behind rather than being
asked for less. Each transaction is its own Locust request name (1101, 2401, 2304 …) and each whole episode
another ("inpatient episode").

With workers (on this machine or others) the master sends each the plan, and each takes its share of the
persons and arrivals; at the end each sends back every settlement its users saw acknowledged, which the
master writes to ``acknowledged-<process>.jsonl`` (and its counts to ``summary-<process>.json``) for the
ledger check.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import logging
import math
import os
import queue
import random
import ssl
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import httpx
from locust import LoadTestShape, User, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

from ..actors import admin
from ..actors.his import His, Hospital, LostAnswer, Refused, Reply, card_read
from ..actors.his.client import Poster
from ..specs import envelope, loader
from ..specs.money import cents
from ..world import topology
from . import bills, shapes
from .http import Gateways

SETTINGS: dict[str, Any] = json.loads(os.environ.get("YIDI_LOAD", "{}"))  # yidi load's options
logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request in a worker's log
GRACE = 5.0  # an episode done this long after the run's end is in time: the last ones are due at the end
CONCURRENCY = 3.0  # users per settlement/s the shape asks: an episode takes well under 3 s when held


@dataclass(frozen=True)
class Plan:
    """What every process of a run follows: ``yidi load``'s settings, and how many processes share the
    work. The master (or the only process) reads them from ``YIDI_LOAD``; workers, on this machine or
    others, receive them from the master when the run starts, so ``yidi load --join`` needs no options."""

    settings: Mapping[str, Any]
    shares: int = 1

    @functools.cached_property
    def shape(self) -> shapes.Shape:
        s = self.settings
        return shapes.named(
            s.get("shape", "day-2017"),
            scale=s.get("scale", 1.0),
            compress=s.get("compress", 1.0),
            duration=s.get("duration"),
            rate=s.get("rate", 1.0),
        )

    def share(self, name: str, default: float) -> float:
        """A share of the mix: ``cancel`` settlements cancelled (2305) and settled again, ``withdraw``
        admissions withdrawn (2404), ``lose`` 2304 answers lost after the commit (2601, settled again),
        ``retry`` state-changing messages sent twice under one msgid (the platform must answer the same)."""
        return float(self.settings.get(name, default))


PLAN: Plan | None = None if SETTINGS.get("join") else Plan(SETTINGS)


def pairs(roster: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(person, hospital) pairs: each person of the load crowd (or, without one, the roster's persons) whose
    card is in use, with a hospital of the place their live filing names (a whole province when it ends in
    0000), the hospitals there taken in turn."""
    hospitals = [h for p in roster["provinces"] for h in p["hospitals"]]
    found = []
    for i, person in enumerate(roster.get("crowd") or roster["persons"]):
        live = [f["mdtrtarea"] for f in person["filings"] if f["status"] == "1" and not f["enddate"]]
        if person["card"]["status"] != "1" or not live:
            continue
        area = str(live[0])
        place = area[:2] if area.endswith("0000") else area
        there = [h["fixmedins_code"] for h in hospitals if str(h["admdvs"]).startswith(place)]
        found += [(person["key"], there[i % len(there)])] if there else []
    return found


class Desk:
    """What this process's users share: its persons (one open stay each), each hospital's msgid range and
    sign-in, the shape's arrivals (this process's share of them), its counts and acknowledgements."""

    def __init__(self, environment: Any, roster: Mapping[str, Any], plan: Plan, share: int) -> None:
        self.environment, self.plan, self.share, self.shares = environment, plan, share, plan.shares
        self.spec = loader.load(roster.get("spec"))
        self.hospitals = {h["fixmedins_code"]: h for p in roster["provinces"] for h in p["hospitals"]}
        people = {p["key"]: p for p in (*roster["persons"], *roster.get("crowd", ()))}
        self.free: queue.Queue[tuple[dict[str, Any], str]] = queue.Queue()
        for key, code in pairs(roster)[share :: plan.shares]:
            self.free.put((people[key], code))
        self.msgids: dict[str, envelope.MsgIds] = {}
        self.sign_nos: dict[str, str] = {}  # a hospital signs in (9001) once in a process, not per user
        self.tls = ssl.create_default_context()  # loaded once: a context per client costs ~50 ms
        self.catalogs: dict[str, list[tuple[str, float]]] = {}
        self.due: Iterator[float] = itertools.islice(shapes.arrivals(plan.shape), share, None, plan.shares)
        self.start, self.cpu = time.monotonic(), time.process_time()  # from here: the generator's own cost
        self.asked = self.done = self.in_time = self.requests = 0
        self.acknowledged: list[dict[str, Any]] = []  # every settlement a user saw acknowledged
        self.behind = 0.0  # the most an episode started after it was due (s)

    def his(self, code: str, http: Poster) -> TimedHis:
        """A HIS workstation of the hospital, sending through ``http`` (a user's own connections: one pool
        for all users costs time in every request); msgids in this process's own range."""
        client = TimedHis(self.spec, Hospital.from_roster(self.hospitals[code]), client=http)
        width = 10_000 // self.shares  # this process's own range, kept however long the run
        ids = envelope.MsgIds(code, start=1 + self.share * width, width=width)
        client.msgids, client.desk = self.msgids.setdefault(code, ids), self
        client.sign_no = self.sign_nos.get(code, "")
        return client

    def catalog(self, code: str) -> list[tuple[str, float]]:
        """What the hospital bills: its province's catalog in the world of the run (``yidi load --world``)."""
        if code not in self.catalogs:
            t = topology.load(SETTINGS.get("world"))
            province = t.province_of(t.hospital(code).admdvs)  # type: ignore[union-attr]
            self.catalogs[code] = [(e.item.code, float(e.item.price)) for e in province.catalog.values()]  # type: ignore[union-attr]
        return self.catalogs[code]

    def now(self) -> float:
        """Seconds into the run."""
        return time.monotonic() - self.start

    def next_due(self) -> float | None:
        """When this process's next settlement is due (seconds into the run), or None when the shape asks
        for no more."""
        due = next(self.due, None)
        self.asked += due is not None
        return due

    def started(self, due: float) -> None:
        self.behind = max(self.behind, self.now() - due)

    def finished(self) -> None:
        self.done += 1
        self.in_time += self.now() <= self.plan.shape.duration + GRACE

    def report(self, name: str, started: float, length: int, exception: Exception | None) -> None:
        self.requests += 1
        self.environment.events.request.fire(
            request_type="POST",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )

    def acknowledge(
        self, settlement: Mapping[str, Any], *, cross: bool, cancelled: bool, inpatient: bool = True
    ) -> None:
        s = settlement.get("setlinfo") or {}
        line = {
            "setl_id": s.get("setl_id"),
            "fund": cents(s.get("fund_pay_sumamt") or 0),
            "acct": cents(s.get("acct_pay") or 0),
            "cross": cross,
            "cancelled": cancelled,
            "inpatient": inpatient,
        }
        self.acknowledged.append(line)

    @staticmethod
    def idle() -> dict[str, Any]:
        """The counts of a process that had no users."""
        return dict.fromkeys(("asked", "done", "in_time", "requests", "behind_s", "cpu_s"), 0)

    def summary(self) -> dict[str, Any]:
        return {
            "asked": self.asked,
            "done": self.done,
            "in_time": self.in_time,
            "behind_s": round(self.behind, 3),
            "requests": self.requests,
            "cpu_s": round(time.process_time() - self.cpu, 3),
        }


class TimedHis(His):
    """The HIS client, each message reported to Locust under its infno; now and then a message sent twice
    (a HIS retrying: the platform must answer the same) or a settlement's answer lost after the commit."""

    desk: Desk
    lost = False  # the last 2304's answer was dropped

    def sign_in(self) -> str:
        self.desk.sign_nos[self.hospital.fixmedins_code] = sign_no = super().sign_in()
        return sign_no

    def send(self, message: Mapping[str, Any], *, headers: Mapping[str, str] | None = None) -> Reply:
        infno, started = str(message["infno"]), time.perf_counter()
        try:
            reply = super().send(message, headers=headers)
            if random.random() < self.desk.plan.share("retry", 0.01) and self.spec.machine_for(
                infno
            ):  # a state-changing transaction
                again = super().send(message, headers=headers)
                if again.received != reply.received:
                    raise RetryAnswered(infno, reply, again)
        except (LostAnswer, RetryAnswered) as e:
            self.desk.report(infno, started, 0, e)
            raise
        self.desk.report(infno, started, reply.size, None if reply.ok else Refused(reply))
        if (
            infno == "2304" and reply.ok
        ):  # never twice running: a HIS reverses a lost answer, settles again once
            self.lost, lost = (
                not self.lost and random.random() < self.desk.plan.share("lose", 0.01),
                self.lost,
            )
            if self.lost and not lost:
                raise LostAnswer(
                    infno, str(message["msgid"]), "answer dropped by the load user (after commit)"
                )
        return reply


class RetryAnswered(Exception):
    def __init__(self, infno: str, first: Reply, again: Reply) -> None:
        super().__init__(f"{infno} sent twice (msgid {first.msgid}) answered differently: {again.body}")


DESK: Desk | None = None
ONCE = threading.Lock()  # cooperative under gevent: users starting together build one desk


def desk(environment: Any) -> Desk:
    """This process's desk; a worker waits for the master's plan, then takes its share (its index)."""
    global DESK
    with ONCE:
        while PLAN is None:
            gevent.sleep(0.1)
        if DESK is None:
            got = httpx.get(f"{environment.host}/admin/roster", timeout=60, headers=admin.headers())
            roster = got.raise_for_status().json()
            DESK = Desk(environment, roster, PLAN, max(environment.runner.worker_index, 0) % PLAN.shares)
    return DESK


class HisUser(User):
    """A hospital's HIS desk: takes the next settlement the shape asks for, waits until it is due, and runs
    a whole inpatient episode (9001 → 1101 → 2401 → 2301 batches → 2402 → 2303 → 2304, now and then 2305
    and settled again, or 2404) or an outpatient visit (1101 → 2201 → 2203 → 2204 → 2206 → 2207)."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.desk = desk(self.environment)
        # idle connections dropped before the server's keep-alive (uvicorn: 5 s) closes them under a request;
        # geventhttpclient rather than httpx: about a third of the CPU a request (bench/his_client.py)
        self.http = Gateways(timeout=60, tls=self.desk.tls, keepalive_expiry=2)
        self.workstations: dict[str, TimedHis] = {}

    def on_stop(self) -> None:
        self.http.close()

    def his(self, code: str) -> TimedHis:
        if code not in self.workstations:
            self.workstations[code] = self.desk.his(code, self.http)
        return self.workstations[code]

    @task
    def episode(self) -> None:
        due = self.desk.next_due()
        if due is None:  # the shape asks for no more: idle until the run ends
            gevent.sleep(1)
            return
        gevent.sleep(max(0.0, due - self.desk.now()))
        person, code = self.desk.free.get()
        self.desk.started(due)
        if self.one(person, code):  # a refused person may have a stay left open: set aside
            self.desk.free.put((person, code))

    def one(self, person: Mapping[str, Any], code: str) -> bool:
        desk, rng = self.desk, random.Random(random.getrandbits(64))  # Random() reads 2.5 kB of urandom
        his, card = self.his(code), card_read(person)
        inpatient, plan = rng.random() < desk.plan.shape.inpatient, desk.plan
        cross = person["insuplc_admdvs"][:2] != code[1:3]
        kind, started = ("inpatient" if inpatient else "outpatient"), time.perf_counter()
        try:
            if not inpatient:
                settlement = his.outpatient_visit(card, bills.outpatient(desk.catalog(code), rng)).settlement
            elif rng.random() < plan.share(
                "withdraw", 0.01
            ):  # admitted in error and withdrawn (2404): nothing to settle
                his.simple(his.stay(card, []), "2404")
                settlement = None
            else:
                episode = his.inpatient_episode(card, bills.inpatient(desk.catalog(code), rng), batch=20)
                settlement = episode.settlement
                if rng.random() < plan.share(
                    "cancel", 0.05
                ):  # cancelled (2305) and settled again, as corrected
                    his.cancel_settlement(episode)
                    desk.acknowledge(settlement or {}, cross=cross, cancelled=True)
                    settlement = his.settle(episode).output
        except (Refused, LostAnswer, RetryAnswered) as e:
            desk.report(f"{kind} episode", started, 0, e)
            return False
        desk.report(f"{kind} episode", started, 0, None)
        desk.finished()
        if settlement is not None:
            desk.acknowledge(settlement, cross=cross, cancelled=False, inpatient=inpatient)
        return True


class RateShape(LoadTestShape):
    """Users enough for the shape's rate (``CONCURRENCY`` per settlement/s at the next seconds' peak) or
    ``--users``; the arrivals, not the users, set the pace. It runs on the master (or the only process).
    At the end no users: each finishes its episode; the run ends when every process has delivered."""

    def tick(self) -> tuple[int, float] | None:
        assert PLAN is not None
        t, shape = self.get_run_time(), PLAN.shape
        if t >= shape.duration:
            waited_out = t > shape.duration + STOP_TIMEOUT
            return None if len(DELIVERED) >= PLAN.shares or waited_out else (0, 1000.0)
        peak = max(shape.rate(min(t + ahead, shape.duration - 0.01)) for ahead in (0, 1, 2, 3))
        users = int(PLAN.settings.get("users") or max(1, math.ceil(peak * CONCURRENCY)))
        return users, float(min(users, 100))  # Locust warns of spawn rates over 100/s


# ── one run over several processes: the plan goes out, the acknowledgements come back ───────────────

STOP_TIMEOUT = 60.0  # the longest the run waits after its end for episodes in flight (yidi load passes it)
DELIVERED: set[str] = set()  # the processes whose acknowledgements are in (on the master)


def keep(name: str, acknowledged: list[dict[str, Any]], summary: Mapping[str, Any]) -> None:
    """A process's acknowledgements and counts, in the run's folder (read by ``yidi load``)."""
    assert PLAN is not None
    out = Path(PLAN.settings.get("out", "."))
    lines = "".join(json.dumps(line) + "\n" for line in acknowledged)
    (out / f"acknowledged-{name}.jsonl").write_text(lines, encoding="utf-8")
    (out / f"summary-{name}.json").write_text(json.dumps(summary), encoding="utf-8")
    DELIVERED.add(name)


def deliver(environment: Any) -> None:
    """Once the run's end has passed and this process's users have finished their episodes: a worker
    sends what they saw to the master, the only process keeps it."""
    assert PLAN is not None
    start, runner = time.monotonic(), environment.runner
    while time.monotonic() - start < PLAN.shape.duration or runner.user_count:
        gevent.sleep(0.2)
    acknowledged, summary = (DESK.acknowledged, DESK.summary()) if DESK else ([], Desk.idle())
    if isinstance(runner, WorkerRunner):
        books = {"acknowledged": acknowledged, "summary": summary}
        runner.send_message("yidi-done", {"name": runner.client_id, "books": books})
    else:
        keep(str(os.getpid()), acknowledged, summary)


@events.init.add_listener
def _wire(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):

        def follow(environment: Any, msg: Any, **_: Any) -> None:
            global PLAN
            PLAN = Plan(msg.data["settings"], int(msg.data["shares"]))
            gevent.spawn(deliver, environment)

        runner.register_message("yidi-plan", follow)
    elif isinstance(runner, MasterRunner):
        runner.register_message(
            "yidi-done", lambda environment, msg, **_: keep(msg.data["name"], **msg.data["books"])
        )


@events.test_start.add_listener
def _start(environment: Any, **_: Any) -> None:
    global PLAN
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    assert PLAN is not None
    if isinstance(runner, MasterRunner):  # sent before the users are: a worker's desk waits for it
        PLAN = Plan(PLAN.settings, max(runner.worker_count, 1))
        runner.send_message("yidi-plan", {"settings": dict(PLAN.settings), "shares": PLAN.shares})
    else:
        gevent.spawn(deliver, environment)
    gevent.spawn(progress, environment)


def progress(environment: Any) -> None:
    """A live progress line on the master (or the only process): asked so far, done, requests, failures."""
    assert PLAN is not None
    shape = PLAN.shape
    asked = list(shapes.arrivals(shape))
    start, tty, last = time.monotonic(), sys.stderr.isatty(), 0.0
    while True:
        gevent.sleep(1)
        t = time.monotonic() - start
        stats = environment.runner.stats
        done = sum(stats.get(f"{k} episode", "POST").num_requests for k in ("inpatient", "outpatient"))
        due = bisect.bisect_right(asked, t)
        text = (
            f"{min(t, shape.duration):5.0f}/{shape.duration:.0f} s · 应结算 asked {due}/{len(asked)} · "
            f"完成 done {done} · 请求 {stats.total.num_requests} ({stats.total.current_rps:.0f}/s) · "
            f"失败 {stats.total.num_failures}"
        )
        if tty:
            print(f"\r{text}   ", end="", file=sys.stderr, flush=True)
        elif t - last >= 10:
            print(text, file=sys.stderr, flush=True)
            last = t
