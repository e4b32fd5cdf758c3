"""kill -9 and restart on the same database: nothing acknowledged is lost, nothing is half-done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from yidi.actors import admin
from yidi.actors.his import Episode, His, Hospital, LostAnswer
from yidi.simulators.store import hub_records, insured_settlements, settlements, signins, visit_fees, visits
from yidi.specs import loader

from .conftest import free_port


class Process:
    """``yidi serve`` in its own process, so that it can be killed for real."""

    def __init__(self, db: Path, *args: str) -> None:
        self.db, self.port = db, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = admin.new_token()
        self.admin = admin.headers(self.token)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "yidi",
                "serve",
                "--port",
                str(self.port),
                "--db",
                f"sqlite:///{db}",
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env={**os.environ, admin.ENV: self.token},
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/admin/health", timeout=1, headers=self.admin).raise_for_status()
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    stderr = self.proc.stderr.read()  # type: ignore[union-attr]
                    raise RuntimeError(f"yidi serve did not start: {stderr!r}") from None
                time.sleep(0.1)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def his(self, code: str) -> His:
        roster = httpx.get(f"{self.url}/admin/roster", headers=self.admin).json()
        entry = next(h for p in roster["provinces"] for h in p["hospitals"] if h["fixmedins_code"] == code)
        his = His(loader.load(roster["spec"]), Hospital.from_roster(entry), timeout=30)
        his.sign_in()
        return his

    def card(self, key: str) -> dict[str, Any]:
        return httpx.get(f"{self.url}/cards/{key}").json()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for p in started:
        if p.proc.poll() is None:
            p.kill()


ITEMS = [("001102000010000", 3, 45.0)]


def rows(db: Path, table: Any) -> list[Any]:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        found = list(conn.execute(select(table)))
    engine.dispose()
    return found


def items_for(url: str) -> list[tuple[str, float, float]]:
    from yidi.world import topology

    catalog = topology.load().provinces["500000"].catalog.values()
    return [(e.item.code, 2, float(e.item.price)) for e in list(catalog)[:4]]


def test_every_acknowledged_settlement_survives_kill_9(tmp_path: Path, processes: list[Process]) -> None:
    db = tmp_path / "state.db"
    server = Process(db)
    processes.append(server)
    his = server.his("H50000000001")
    acknowledged = []
    for key in ("P01", "P07", "P12", "P21", "P33"):
        hospital = "H51010000001" if key == "P12" else "H50000000001"
        h = his if hospital == "H50000000001" else server.his(hospital)
        episode = h.inpatient_episode(server.card(key), items_for(server.url), cert_type="02")
        acknowledged.append((h.hospital.fixmedins_code, episode))
    server.kill()  # right after the last acknowledgement

    restarted = Process(db)
    processes.append(restarted)
    for code, episode in acknowledged:
        s = episode.settlement["setlinfo"]  # type: ignore[index]
        h = restarted.his(code)
        found = h.call(
            "5203",
            {"data": {"psn_no": episode.psn_no, "setl_id": s["setl_id"], "mdtrt_id": episode.mdtrt_id}},
            insuplc_admdvs=episode.insuplc_admdvs,
        )
        assert found.output["setlinfo"]["fund_pay_sumamt"] == s["fund_pay_sumamt"]
    restarted.kill()
    assert all(v.state in ("settled",) for v in rows(db, visits))
    treated = {r.setl_id for r in rows(db, settlements)}
    assert treated == {r.setl_id for r in rows(db, insured_settlements)}
    assert (
        {r.setl_id for r in rows(db, hub_records)}
        == {
            e.settlement["setlinfo"]["setl_id"]  # type: ignore[index]
            for code, e in acknowledged
            if e.insuplc_admdvs[:2] != code[1:3]
        }
    )


def test_a_crash_in_the_middle_of_a_settlement_is_reversed_at_restart(
    tmp_path: Path, processes: list[Process]
) -> None:
    db = tmp_path / "state.db"
    # the insured side (Sichuan) commits, then sits on its answer for 30 s: the crash comes in between
    server = Process(db, "--fault", "latency:insured:510000/Y2304=30")
    processes.append(server)
    his = server.his("H50000000001")
    info = his.person_info(server.card("P01"), "02")
    episode = Episode(info.output, info.output["insuinfo"][0]["insuplc_admdvs"])
    his.admit(episode)
    his.upload_fees(episode, items_for(server.url))
    his.discharge(episode)
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(_settle(his, episode)))
    thread.start()
    deadline = time.monotonic() + 20
    while not [r for r in rows(db, insured_settlements) if r.status == "active"]:
        assert time.monotonic() < deadline, "the insured side never committed"
        time.sleep(0.1)
    server.kill()
    thread.join(timeout=30)
    assert isinstance(outcome[0], LostAnswer)  # the hospital never had an acknowledgement
    assert [v.state for v in rows(db, visits)] == ["settling"]  # mid-call, as the crash left it

    restarted = Process(db)  # recovery reverses the claim at start
    processes.append(restarted)
    assert [v.state for v in rows(db, visits)] == ["discharged"]
    assert [r.status for r in rows(db, insured_settlements)] == ["reversed"]
    assert rows(db, hub_records) == []  # the hub was still waiting for the answer: it never recorded it
    his = restarted.his("H50000000001")
    his.reverse(
        episode, outcome[0].msgid, "2304", tolerate_nothing=True
    )  # what the HIS does: nothing to undo
    his.settle(episode)
    assert sorted(r.status for r in rows(db, insured_settlements)) == ["active", "reversed"]
    assert len(rows(db, settlements)) == 1 and [r.status for r in rows(db, hub_records)] == ["active"]


def _settle(his: His, episode: Episode) -> Any:
    try:
        return his.settle(episode, reverse_lost=False)
    except LostAnswer as e:
        return e


def test_a_retry_after_a_restart_gets_the_answer_given_before(
    tmp_path: Path, processes: list[Process]
) -> None:
    """A restarted node still knows the msgids it answered (simulators/answered.py fills its filter from
    the database): a retry is answered as before, not done again."""
    db = tmp_path / "state.db"
    server = Process(db)
    processes.append(server)
    his = server.his("H51010000001")
    message = his.message("9001", {"signIn": his.node("9001", "signIn", opter_no="0001")})
    first = his.send(message)
    server.kill()

    restarted = Process(db)
    processes.append(restarted)
    again = restarted.his("H51010000001").send(message)
    restarted.kill()
    assert first.ok and again.output == first.output
    sign_no = first.output["signinoutb"]["sign_no"]
    assert len(rows(db, signins)) == 3 and sum(r.sign_no == sign_no for r in rows(db, signins)) == 1


def test_fee_lines_changed_before_a_kill_are_as_changed_after_the_restart(
    tmp_path: Path, processes: list[Process]
) -> None:
    """The fee lines are kept apart from the visit's document and written only when they change
    (treatment/visits.py): a line cancelled (2302), the visit then saved without its lines (2402), is still
    cancelled after kill -9 and a restart; the settlement covers the lines left, which carry its setl_id;
    5204 lists each line with the row its 2301 answered, made again from what is kept (treatment/fees.py)."""
    db = tmp_path / "state.db"
    server = Process(db)
    processes.append(server)
    his = server.his("H50000000001")
    episode = his.stay(server.card("P01"), items_for(server.url), batch=2, cert_type="02")
    cancelled = episode.fees.pop(1)["feedetl_sn"]
    his.simple(episode, "2302", feedetl_sn=cancelled)
    his.discharge(episode)
    server.kill()

    restarted = Process(db)
    processes.append(restarted)
    his = restarted.his("H50000000001")

    def listed(setl_id: str = "") -> dict[str, dict[str, Any]]:
        data = {"psn_no": episode.psn_no, "mdtrt_id": episode.mdtrt_id, "setl_id": setl_id}
        reply = his.call("5204", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs)
        return {r["feedetl_sn"]: r for r in reply.output["data"]}

    found = listed()
    assert set(found) == {f["feedetl_sn"] for f in episode.fees} and cancelled not in found
    assert all({k: found[f["feedetl_sn"]][k] for k in f} == f for f in episode.fees)  # as 2301 answered
    his.presettle(episode)  # the totals of the lines left, as the HIS counts them
    setl_id = his.settle(episode).output["setlinfo"]["setl_id"]
    settled = {sn: row["setl_id"] for sn, row in listed(setl_id).items()}
    assert settled == dict.fromkeys((f["feedetl_sn"] for f in episode.fees), setl_id)
    restarted.kill()
    [visit] = rows(db, visits)
    [lines] = rows(db, visit_fees)
    assert visit.state == "settled" and "fees" not in visit.doc and visit.doc["fees_row"]
    assert lines.lines[cancelled]["status"] == "cancelled" and "setl_id" not in lines.lines[cancelled]
