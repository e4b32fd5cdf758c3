"""Input the schema lets through that once broke a handler (answered E6009) or was booked though it could
not be true: impossible dates, a stay in the future or discharged before its admission, another person's
visit, JSON nested too deep to be recorded. Each is refused with an infcode naming the field, and
changes nothing (issue #20)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from yidi.actors.his import Episode, His, LostAnswer, Refused, credential
from yidi.simulators.store import hub_records, insured_settlements, settlements, visits
from yidi.specs import examples, transport
from yidi.specs.validate import validate

from .conftest import Served
from .test_episodes import admitted, count


def hub_post(served: Served, infno: str, data: dict[str, Any]) -> dict[str, Any]:
    """A platform's message to the hub (Y3201, Y3202), signed by the insured platform of 500000."""
    spec, account = served.sim.spec, served.sim.topology.provinces["500000"].platform
    message = examples.request(
        spec,
        infno,
        fixmedins_code=account.code,
        msgid=f"{account.code}{time.strftime('%Y%m%d%H%M%S')}{int(time.time() * 1e6) % 10000:04d}",
    )
    message["input"]["data"].update(data)
    headers = transport.sign_headers(spec, account.paasid, account.secret, now=time.time())
    r = httpx.post(f"{served.url}/hub/{infno}", content=json.dumps(message).encode(), headers=headers)
    assert r.status_code == 200
    return dict(r.json())


# ── what Schemathesis found: values a handler computed with and broke on ──────


@pytest.mark.parametrize(
    ("infno", "data"),
    [
        ("3201", {"stmt_begndate": "0000-01-01"}),
        ("3201", {"stmt_begndate": "2026-12-01", "stmt_enddate": "2026-11-01"}),
        ("3260", {"trt_year": "0"}),
        ("3260", {"trt_year": ""}),
        ("3262", {"trt_year": "0"}),
        ("3262", {"trt_year": "", "otransid": "X"}),
    ],
)
def test_clearing_and_reconciliation_values_no_calendar_has_are_refused_not_crashed(
    served: Served, infno: str, data: dict[str, Any]
) -> None:
    his = served.his("H51010000001")
    reply = his.call(
        "3201" if infno == "3201" else infno, {"data": {**his.node(infno, "data"), **data}}, check=False
    )
    assert reply.infcode == -1 and not reply.err_msg.startswith("[E6009]"), reply.err_msg
    assert next(iter(data)) in reply.err_msg


@pytest.mark.parametrize("infno", ["Y3201", "Y3202"])
@pytest.mark.parametrize("setlym", ["0", "000000", "202613"])
def test_a_clearing_month_that_is_no_month_is_refused_not_crashed(
    served: Served, infno: str, setlym: str
) -> None:
    answer = hub_post(served, infno, {"setlym": setlym})
    assert answer["infcode"] == -1 and answer["err_msg"].startswith("[E1004]"), answer["err_msg"]
    assert "setlym" in answer["err_msg"]


# ── calendar dates ─────────────────────────────────────────────


@pytest.mark.parametrize("day", ["2023-02-30", "2026-11-31", "0000-01-01", "2026-04-31"])
def test_a_day_the_calendar_lacks_is_refused_naming_the_field(day: str) -> None:
    from yidi.specs import loader

    spec = loader.load()
    message = examples.request(spec, "2401")
    message["input"]["mdtrtinfo"]["begntime"] = f"{day} 08:00:00"
    issues = validate(spec, message).issues
    assert [(i.code, i.path) for i in issues] == [("E1004", "input.mdtrtinfo.begntime")], issues
    assert day in issues[0].zh
    message["input"]["mdtrtinfo"]["begntime"] = "2024-02-29 08:00:00"  # a leap day is a day
    assert validate(spec, message).issues == []


def test_an_admission_in_the_platforms_future_is_refused_and_books_nothing(served: Served) -> None:
    his = served.his("H51010000001")
    card = served.card("P12")
    info = his.person_info(card, "03").output
    episode = Episode(info, info["insuinfo"][0]["insuplc_admdvs"])
    before = count(served, visits)
    with pytest.raises(Refused) as refused:
        his.admit(episode, cert=credential(card, "03"), begntime=datetime(9999, 12, 31, 8, 0))
    reply = refused.value.reply
    assert reply.err_msg.startswith("[E4012]") and "开始时间9999-12-31" in reply.err_msg, reply.err_msg
    assert count(served, visits) == before


def test_a_clock_a_little_ahead_is_tolerated(served: Served) -> None:
    his = served.his("H51010000001")
    card = served.card("P12")
    info = his.person_info(card, "03").output
    episode = Episode(info, info["insuinfo"][0]["insuplc_admdvs"])
    reply = his.admit(episode, cert=credential(card, "03"), begntime=his.now() + timedelta(minutes=5))
    assert reply.ok, reply.err_msg


def test_a_discharge_before_the_admission_is_refused_and_settles_nothing(served: Served) -> None:
    his = served.his("H51010000001")
    card = served.card("P12")
    info = his.person_info(card, "03").output
    episode = Episode(info, info["insuinfo"][0]["insuplc_admdvs"])
    his.admit(episode, cert=credential(card, "03"), begntime=his.now() - timedelta(days=2))
    his.upload_fees(episode, served.items("510000", 2))
    with pytest.raises(Refused) as refused:
        his.discharge(episode, endtime=his.now() - timedelta(days=3))
    assert refused.value.reply.err_msg.startswith("[E4011]结束时间"), refused.value.reply.err_msg
    assert "早于入院时间" in refused.value.reply.err_msg
    # the stay is still open: it cannot be settled as if discharged
    assert his.call(
        "2304",
        {"data": his.settlement_data(episode, "2304", use_account=True, mid=False)},
        insuplc_admdvs=episode.insuplc_admdvs,
        check=False,
    ).err_msg.startswith("[E4002]")


# ── the person of the visit ─────────────────────────────────────


@pytest.mark.parametrize("infno", ["2303", "2304"])
def test_settling_a_visit_in_another_persons_name_is_refused(served: Served, infno: str) -> None:
    his, episode = admitted(served, "P12", "H51010000001")
    data = his.settlement_data(episode, infno, use_account=True, mid=False)
    data["psn_no"] = "51000000000000000099"
    before = count(served, settlements), count(served, insured_settlements), count(served, hub_records)
    reply = his.call(infno, {"data": data}, insuplc_admdvs=episode.insuplc_admdvs, check=False)
    assert reply.infcode == -2 and reply.err_msg.startswith("[E4010]"), reply.err_msg
    assert "51000000000000000099" in reply.err_msg and episode.mdtrt_id in reply.err_msg
    after = count(served, settlements), count(served, insured_settlements), count(served, hub_records)
    assert after == before


# ── nesting ────────────────────────────────────────────────────


def test_json_nested_too_deep_to_record_is_refused_before_anything_is_booked(served: Served) -> None:
    """orjson writes 255 levels: a settlement whose message cannot be digested must not reach the hub and
    the insured side and then roll back at the treatment side."""
    his, episode = admitted(served, "P01", "H50000000001")
    his.presettle(episode)
    data: dict[str, Any] = his.settlement_data(episode, "2304", use_account=True, mid=False)
    deep: Any = "x"
    for _ in range(300):
        deep = {"a": deep}
    data["exp_content"] = deep
    before = count(served, settlements), count(served, insured_settlements), count(served, hub_records)
    reply = his.call("2304", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs, check=False)
    assert reply.infcode == -1 and reply.err_msg.startswith("[E1007]"), reply.err_msg
    after = count(served, settlements), count(served, insured_settlements), count(served, hub_records)
    assert after == before
    his.settle(episode)  # the stay itself is intact and settles


# ── a lost answer as the network loses it ────────────────────────


def settlement(his: His, episode: Episode) -> dict[str, Any]:
    """The discharge settlement (2304) of ``episode``, signed and ready to send."""
    data = his.settlement_data(episode, "2304", use_account=True, mid=False)
    return his.message("2304", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs)


def test_a_held_answer_times_the_his_out_and_the_his_reverses_and_settles_again(served: Served) -> None:
    """hold-answer: the settlement is committed and the connection held open with no answer, so it is the
    HIS's own read timeout that gives up (drop-answer answers 504 at once)."""
    his, episode = admitted(served, "P01", "H50000000001")
    his.client = httpx.Client(timeout=httpx.Timeout(10, read=1.5))
    served.faults("hold-answer:2304*1")
    message = settlement(his, episode)
    started = time.monotonic()
    with pytest.raises(LostAnswer) as lost:
        his.send(message)
    waited = time.monotonic() - started
    assert "ReadTimeout" in lost.value.args[-1] and 1.4 < waited < 5, (lost.value, waited)
    assert count(served, settlements) == 1  # committed although unanswered
    his.reverse(episode, str(message["msgid"]), "2304", tolerate_nothing=True)
    his.settle(episode)
    assert {r.infno for r in episode.replies[-2:]} == {"2601", "2304"} and episode.settlement


def test_a_held_answer_ends_in_504_for_a_client_that_waits_longer(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")
    served.faults("hold-answer:2304=0.5*1")
    message = settlement(his, episode)
    started = time.monotonic()
    with pytest.raises(LostAnswer) as lost:
        his.send(message)
    assert "HTTP 504" in str(lost.value) and 0.45 < time.monotonic() - started < 5


def test_a_query_nested_too_deep_is_answered_not_crashed(served: Served) -> None:
    his = served.his("H51010000001")
    deep: Any = "x"
    for _ in range(300):
        deep = {"a": deep}
    data = {**his.node("5203", "data"), "exp_content": deep}
    reply = his.call("5203", {"data": data}, check=False)
    assert not reply.err_msg.startswith("[E6009]"), reply.err_msg
