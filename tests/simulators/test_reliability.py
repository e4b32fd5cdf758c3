"""Idempotency, reversal, cancellation, faults and concurrency, over real HTTP."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from yidi.actors.his import Episode, Refused, credential
from yidi.simulators.store import hub_records, insured_settlements, settlements, visits

from .conftest import Served
from .test_episodes import admitted, count, settled, ytd

D = Decimal


def visit_state(served: Served, mdtrt_id: str) -> str:
    with served.sim.store.begin() as conn:
        return str(conn.execute(select(visits.c.state).where(visits.c.mdtrt_id == mdtrt_id)).scalar_one())


def statuses(served: Served, table: Any, setl_id: str) -> list[tuple[str, str]]:
    with served.sim.store.begin() as conn:
        rows = conn.execute(
            select(table.c.kind if "kind" in table.c else table.c.infno, table.c.status).where(
                table.c.setl_id == setl_id
            )
        ).all()
    return sorted((str(a), str(b)) for a, b in rows)


def test_the_same_msgid_twice_is_one_settlement_with_one_answer(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")
    message = his.message(
        "2304",
        {"data": his.settlement_data(episode, "2304", use_account=True, mid=False)},
        insuplc_admdvs=episode.insuplc_admdvs,
    )
    first, second = his.send(message), his.send(message)  # a retry re-signs with a new nonce
    assert first.ok and first.body == second.body
    assert count(served, settlements) == 1 and count(served, insured_settlements) == 1
    assert count(served, hub_records) == 1
    altered = {**message, "input": {"data": {**message["input"]["data"], "acct_used_flag": "0"}}}
    refused = his.send(altered)
    assert refused.infcode == -2 and refused.err_msg.startswith("[E6001]")


def test_a_lost_settlement_answer_is_reversed_by_2601_and_settled_again(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")
    served.faults("drop-answer:2304*1")
    his.settle(episode)  # the HIS: no answer → 2601 by the msgid → settle again
    infnos = [r.infno for r in episode.replies[-2:]]
    assert infnos == ["2601", "2304"] and episode.replies[-2].ok
    setl_ids = {r.setl_id for r in _all(served, settlements)}
    assert len(setl_ids) == 2  # the lost one, reversed; the new one, active
    assert sorted(r.status for r in _all(served, settlements) if r.kind == "settle") == ["active", "reversed"]
    assert sorted(r.status for r in _all(served, hub_records)) == ["active", "reversed"]
    assert sorted(r.status for r in _all(served, insured_settlements)) == ["active", "reversed"]
    # the year's usage counts the settlement once
    usage = ytd(served, "510000", episode.psn_no)["ytd"]["2026"]
    assert D(usage["cap:inpatient"]) == D(str(episode.settlement["setlinfo"]["hifp_pay"]))  # type: ignore[index]


def _all(served: Served, table: Any) -> list[Any]:
    with served.sim.store.begin() as conn:
        return list(conn.execute(select(table)))


def test_a_reversal_restores_the_visit_and_the_year(served: Served) -> None:
    his, episode = settled(served, "P12", "H51010000001")
    before = ytd(served, "500000", episode.psn_no)
    assert his.reverse(episode, episode.settle_msgid, "2304").ok
    assert visit_state(served, episode.mdtrt_id) == "discharged"
    after = ytd(served, "500000", episode.psn_no)
    used = D(before["ytd"]["2026"]["cap:inpatient"]) - D(after["ytd"]["2026"].get("cap:inpatient", 0))
    assert used == D(str(episode.settlement["setlinfo"]["hifp_pay"]))  # type: ignore[index]
    assert D(after["balance"]) - D(before["balance"]) == D(str(episode.settlement["setlinfo"]["acct_pay"]))  # type: ignore[index]
    assert reversal(his, episode, episode.settle_msgid, "2304").startswith(
        "[E6004]"
    )  # twice: changes nothing
    assert reversal(his, episode, "H51010000001209901010000009999", "2304").startswith("[E6002]")
    assert reversal(his, episode, episode.replies[2].msgid, "2301").startswith("[E6003]")  # not reversible
    assert ytd(served, "500000", episode.psn_no) == after


def reversal(his: Any, episode: Any, omsgid: str, oinfno: str) -> str:
    """2601 without raising: its err_msg ("" when it succeeded)."""
    reply = his.call(
        "2601",
        {"data": {"psn_no": episode.psn_no, "omsgid": omsgid, "oinfno": oinfno}},
        insuplc_admdvs=episode.insuplc_admdvs,
        check=False,
    )
    return str(reply.err_msg)


def test_cancellation_returns_the_exact_negative_and_the_visit_can_be_settled_again(served: Served) -> None:
    his, episode = settled(served, "P12", "H51010000001")
    s = episode.settlement["setlinfo"]  # type: ignore[index]
    cancel = his.cancel_settlement(episode).output["setlinfo"]
    for key in ("medfee_sumamt", "fund_pay_sumamt", "hifp_pay", "acct_pay", "psn_part_amt", "inscp_scp_amt"):
        assert cancel[key] == -s[key], key
    assert "deductible:inpatient:3" not in ytd(served, "500000", episode.psn_no)["ytd"]["2026"]  # rolled back
    his.settle(episode)
    again = episode.settlement["setlinfo"]  # type: ignore[index]
    assert (again["act_pay_dedc"], again["fund_pay_sumamt"]) == (s["act_pay_dedc"], s["fund_pay_sumamt"])


def test_reversing_a_cancellation_reinstates_the_settlement(served: Served) -> None:
    his, episode = settled(served, "P12", "H51010000001")
    cancel = his.cancel_settlement(episode)
    assert his.reverse(episode, cancel.msgid, "2305").ok
    assert visit_state(served, episode.mdtrt_id) == "settled"
    setl_id = episode.settlement["setlinfo"]["setl_id"]  # type: ignore[index]
    assert statuses(served, insured_settlements, setl_id) == [("cancel", "reversed"), ("settle", "active")]


def test_an_admission_can_be_reversed_but_not_with_fees(served: Served) -> None:
    his = served.his("H50000000001")
    info = his.person_info(served.card("P01"), "02")
    from yidi.actors.his import Episode

    episode = Episode(info.output, info.output["insuinfo"][0]["insuplc_admdvs"])
    admission = his.admit(episode)
    his.upload_fees(episode, served.items("500000", 1))
    assert reversal(his, episode, admission.msgid, "2401").startswith("[E4003]")
    his.simple(episode, "2302", feedetl_sn="0000")
    assert reversal(his, episode, admission.msgid, "2401") == ""
    assert visit_state(served, episode.mdtrt_id) == "cancelled"


def test_a_hub_outage_answers_minus_1_and_leaves_nothing_half_done(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")
    served.faults("hub-outage")
    with pytest.raises(Refused) as refused:
        his.settle(episode)
    assert refused.value.reply.infcode == -1 and refused.value.reply.err_msg.startswith("[E6008]")
    assert visit_state(served, episode.mdtrt_id) == "settling"  # the claim waits for recovery to reverse it
    with pytest.raises(Refused) as busy:
        his.settle(episode)
    assert busy.value.reply.err_msg.startswith("[E6005]")
    served.faults()
    assert httpx.post(f"{served.url}/admin/flush", headers=served.admin).json()["recovered"] == 1
    assert visit_state(served, episode.mdtrt_id) == "discharged"
    his.settle(episode)
    assert count(served, insured_settlements) == 1 and count(served, hub_records) == 1


def test_an_insured_side_answering_minus_1_is_reversed_and_released(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")
    served.faults("insured-error:Y2304")
    with pytest.raises(Refused) as refused:
        his.settle(episode)
    assert refused.value.reply.infcode == -1
    assert visit_state(served, episode.mdtrt_id) == "discharged"  # released: the hospital may settle again
    served.faults()
    his.settle(episode)
    assert count(served, insured_settlements) == 1 and count(served, hub_records) == 1


def test_duplicate_delivery_between_platforms_settles_once(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")
    served.faults("duplicate-delivery")
    his.settle(episode)
    assert count(served, insured_settlements) == 1 and count(served, hub_records) == 1


def test_two_simultaneous_settlements_of_one_visit_cannot_both_succeed(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")
    served.faults("latency:insured:510000=0.3")  # keeps the first settlement in flight
    data = {"data": his.settlement_data(episode, "2304", use_account=True, mid=False)}
    messages = [his.message("2304", data, insuplc_admdvs=episode.insuplc_admdvs) for _ in range(2)]
    replies: list[Any] = []
    threads = [threading.Thread(target=lambda m=m: replies.append(his.send(m))) for m in messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.infcode for r in replies) == [-2, 0]
    loser = next(r for r in replies if r.infcode != 0)
    assert loser.err_msg.startswith(("[E6005]", "[E4002]"))
    assert count(served, insured_settlements) == 1 and count(served, settlements) == 1


def test_an_insured_outage_is_answered_e6006_and_leaves_nothing_half_done(served: Served) -> None:
    his = served.his("H50000000001")
    card = served.card("P01")  # Sichuan insured, treated in Chongqing: through the hub
    info = his.person_info(card, "03")
    episode = Episode(info.output, info.output["insuinfo"][0]["insuplc_admdvs"])
    served.faults("insured-outage:510000/Y2401*1")
    with pytest.raises(Refused) as refused:
        his.admit(episode, cert=credential(card, "03"), card_sn=card["card_sn"])
    assert refused.value.reply.infcode == -1 and refused.value.reply.err_msg.startswith("[E6006]")
    assert count(served, visits) == 0
    his.admit(episode, cert=credential(card, "03"), card_sn=card["card_sn"])  # the fault fired once
    local = served.his("H51010000001")
    served.faults("insured-outage:510000")  # the province's own insured side, reached without the hub
    with pytest.raises(Refused) as refused:
        local.person_info(served.card("P09"), "03")
    assert refused.value.reply.err_msg.startswith("[E6006]")
