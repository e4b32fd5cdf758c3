"""The Locust side of ``yidi load``: hospitals' HIS systems running whole episodes at the rate a shape asks.

``yidi load`` runs ``locust -f`` on this file with its settings in ``YIDI_LOAD`` (JSON). Each transaction is
its own Locust request name (1101, 2401, 2304 …) and each whole episode another ("inpatient episode");
every settlement a user saw acknowledged is written to ``acknowledged-<pid>.jsonl`` for the ledger check.
"""

from __future__ import annotations

import functools
import json
import math
import os
import queue
import random
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from locust import LoadTestShape, User, constant_pacing, task

from yidi.load import shapes
from yidi.simulators import topology
from yidi.simulators.his import His, Hospital, LostAnswer, Refused, Reply, card_read
from yidi.specs import envelope, loader

SETTINGS: dict[str, Any] = json.loads(os.environ.get("YIDI_LOAD", "{}"))
PACING = float(SETTINGS.get("pacing", 2.0))  # seconds between the starts of one user's episodes
CANCEL = float(SETTINGS.get("cancel", 0.05))  # share of settlements cancelled afterwards (2305)


def shape() -> shapes.Shape:
    name, scale, compress = (
        SETTINGS.get("shape", "day-2017"),
        SETTINGS.get("scale", 1),
        SETTINGS.get("compress", 1),
    )
    if name in shapes.DAYS:
        return shapes.day(name, scale=scale, compress=compress)
    if name == "step":
        return shapes.step(start=1, step=2, every=10, steps=5, scale=scale)
    return shapes.spike(base=2, peak=10, at=20, width=10, duration=60, scale=scale)


class Desk:
    """The (person, hospital) pairs users take turns with: a person has one open stay at a time."""

    def __init__(self, roster: Mapping[str, Any], share: int = 0, shares: int = 1) -> None:
        self.hospitals = {h["fixmedins_code"]: h for p in roster["provinces"] for h in p["hospitals"]}
        self.cards = {p["key"]: p for p in roster["persons"]}
        self.free: queue.Queue[tuple[str, str]] = queue.Queue()
        self.share, self.shares = share, shares
        for pair in pairs(roster)[share::shares]:
            self.free.put(pair)


def pairs(roster: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A person whose card is in use, and a hospital of the place their live filing names (a whole
    province when it ends in 0000). A person the platform still refuses is set aside at the first refusal."""
    hospitals = [h for p in roster["provinces"] for h in p["hospitals"]]
    found = []
    for person in roster["persons"]:
        live = [f["mdtrtarea"] for f in person["filings"] if f["status"] == "1" and not f["enddate"]]
        if person["card"]["status"] != "1" or not live:
            continue
        area = str(live[0])
        place = area[:2] if area.endswith("0000") else area
        there = [h["fixmedins_code"] for h in hospitals if str(h["admdvs"]).startswith(place)]
        found += [(person["key"], there[0])] if there else []
    return found


@functools.cache
def msgids(code: str, share: int, shares: int) -> envelope.MsgIds:
    """One msgid sequence per hospital and worker process, in its own range: workers never collide."""
    return envelope.MsgIds(code, start=1 + share * (10_000 // shares))


ROSTER: dict[str, Any] = {}
DESK: Desk | None = None
ONCE = threading.Lock()  # cooperative under gevent: users starting together build one desk


def desk(environment: Any) -> Desk:
    """This process's desk: with Locust workers (``--processes``), each takes its own share of the persons."""
    global DESK, ROSTER
    with ONCE:
        if DESK is None:
            ROSTER = httpx.get(f"{environment.host}/admin/roster").raise_for_status().json()
            processes = getattr(environment.parsed_options, "processes", None) or 1
            count = (os.cpu_count() or 1) if processes == -1 else processes
            DESK = Desk(ROSTER, max(environment.runner.worker_index, 0), count)
    return DESK


class TimedHis(His):
    """The HIS client, each message reported to Locust under its infno."""

    user: HisUser

    def send(self, message: Mapping[str, Any], *, headers: Mapping[str, str] | None = None) -> Reply:
        infno, started = str(message["infno"]), time.perf_counter()
        try:
            reply = super().send(message, headers=headers)
        except LostAnswer as e:
            self.user.report(infno, started, 0, e)
            raise
        self.user.report(infno, started, len(str(reply.body)), None if reply.ok else Refused(reply))
        return reply


class HisUser(User):
    """A hospital's HIS: one whole inpatient episode (9001 → 1101 → 2401 → 2301 → 2402 → 2303 → 2304, now
    and then 2305) or outpatient visit per turn, for the persons of the roster in turn."""

    wait_time = constant_pacing(PACING)
    inpatient_share = shape().inpatient
    out = Path(SETTINGS.get("out", "."))

    def on_start(self) -> None:
        self.desk = desk(self.environment)
        self.spec = loader.load(ROSTER.get("spec"))
        self.clients: dict[str, TimedHis] = {}

    def report(self, name: str, started: float, length: int, exception: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="POST",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )

    def his(self, code: str) -> TimedHis:
        if code not in self.clients:
            client = TimedHis(self.spec, Hospital.from_roster(self.desk.hospitals[code]))
            client.msgids, client.user = msgids(code, self.desk.share, self.desk.shares), self
            self.clients[code] = client
        return self.clients[code]

    @task
    def episode(self) -> None:
        person, code = self.desk.free.get()
        if self.one(person, code):  # a refused person may have a stay left open: set aside
            self.desk.free.put((person, code))

    def one(self, person: str, code: str) -> bool:
        his, p = self.his(code), self.desk.cards[person]
        card = card_read(p)
        items = topology.load().fee_items(code, 6)
        inpatient = random.random() < self.inpatient_share
        cross = p["insuplc_admdvs"][:2] != code[1:3]
        kind, started = ("inpatient" if inpatient else "outpatient"), time.perf_counter()
        try:
            if inpatient:
                episode = his.inpatient_episode(card, items)
                settlement = episode.settlement
            else:
                episode = his.outpatient_visit(card, items[:3])
                settlement = episode.settlement
            if inpatient and random.random() < CANCEL:  # cancelled (2305) and settled again, as corrected
                his.cancel_settlement(episode)
                self.acknowledge(settlement or {}, cross=cross, cancelled=True)
                settlement = his.settle(episode).output
        except (Refused, LostAnswer) as e:
            self.report(f"{kind} episode", started, 0, e)
            return False
        self.report(f"{kind} episode", started, 0, None)
        self.acknowledge(settlement or {}, cross=cross, cancelled=False)
        return True

    def acknowledge(self, settlement: Mapping[str, Any], *, cross: bool, cancelled: bool) -> None:
        s = settlement.get("setlinfo") or {}
        line = {
            "setl_id": s.get("setl_id"),
            "fund": round(float(s.get("fund_pay_sumamt") or 0) * 100),
            "acct": round(float(s.get("acct_pay") or 0) * 100),
            "cross": cross,
            "cancelled": cancelled,
        }
        with (self.out / f"acknowledged-{os.getpid()}.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


class RateShape(LoadTestShape):
    """The shape's settlement rate as users: each user starts an episode every PACING seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.shape = shape()
        self.duration = float(SETTINGS.get("duration") or self.shape.duration)

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if t >= self.duration:
            return None
        users = max(1, math.ceil(self.shape.rate(t) * PACING))
        return users, max(users, 1.0)
