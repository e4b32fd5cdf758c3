"""Every mutant really does the wrong thing it names (so a suite that catches it proves something).
The right behaviour is asserted by the other tests; here, that each mutant breaks it.

Long because it is one short test per mutant, in the catalogue's order (simulators/faults.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from yidi.actors.his import Episode, His, Refused, Reply, credential
from yidi.simulators.faults import MUTANTS
from yidi.simulators.store import insured_settlements
from yidi.specs import examples, transport
from yidi.specs.validate import validate
from yidi.suites import catalogue
from yidi.suites.insured.client import admitted as admitted_via
from yidi.suites.insured.client import as_hub, as_treatment
from yidi.suites.plugin import Sut

from .conftest import Served
from .test_episodes import admitted, count, settled, ytd


def test_ignore_deductible(served: Served) -> None:
    served.faults(mutants=("ignore-deductible",))
    _, episode = settled(served, "P12", "H51010000001")
    assert episode.settlement["setlinfo"]["act_pay_dedc"] == 0  # type: ignore[index]


def test_skip_filing_check(served: Served) -> None:
    served.faults(mutants=("skip-filing-check",))
    _, episode = settled(served, "P05", "H50000000001")  # not filed, yet settled
    assert episode.settlement is not None


def test_pay_twice_on_retry(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")
    served.faults("duplicate-delivery", mutants=("pay-twice-on-retry",))
    his.settle(episode)
    assert count(served, insured_settlements) == 2  # one visit, paid twice at the insured side


def test_no_ytd_rollback(served: Served) -> None:
    served.faults(mutants=("no-ytd-rollback",))
    his, episode = settled(served, "P12", "H51010000001")
    his.cancel_settlement(episode)
    usage = ytd(served, "500000", episode.psn_no)["ytd"]["2026"]
    assert float(usage["deductible:inpatient:3"]) > 0  # still counted after the cancellation


def test_accept_bad_signature(served: Served) -> None:
    served.faults(mutants=("accept-bad-signature",))
    h = served.hospital("H51010000001")
    headers = {
        **transport.sign_headers(served.sim.spec, h.paasid, h.secret, now=time.time()),
        "x-tif-signature": "0" * 64,
    }
    message = examples.request(
        served.sim.spec, "9001", msgid=f"H51010000001{time.strftime('%Y%m%d%H%M%S')}0001"
    )
    assert httpx.post(f"{served.url}/gw/510000/9001", json=message, headers=headers).json()["infcode"] == 0


def test_skip_card_sn_check(served: Served) -> None:
    served.faults(mutants=("skip-card-sn-check",))
    his = served.his("H50000000001")
    assert his.person_info({**served.card("P01"), "card_sn": "0" * 32}, "03").ok


def test_every_mutant_is_shown_to_break_something() -> None:
    """Here, or by the catalogue cases that declare they catch it (tests/suites/test_catalogue.py)."""
    here = {name.removeprefix("test_").replace("_", "-") for name in globals() if name.startswith("test_")}
    caught = {m for c in catalogue.load().values() for m in c.catches}
    assert set(MUTANTS) - here - caught == set()


def test_unknown_mutants_and_faults_are_refused(served: Served) -> None:
    r = httpx.post(f"{served.url}/admin/faults", headers=served.admin, json={"mutants": ["nonsense"]})
    assert r.status_code == 400 and "nonsense" in r.json()["detail"]
    with pytest.raises(Refused):  # and the simulator is unchanged: still correct
        his, episode = admitted(served, "P05", "H50000000001")
        his.settle(episode)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/admin/faults", b"not json"),
        ("/admin/faults", b"[1, 2]"),
        ("/admin/clock", b"not json"),
        ("/admin/clock", b'{"set": "the day after tomorrow"}'),
        ("/admin/clock", b'{"advance_seconds": "soon"}'),
    ],
)
def test_the_admin_endpoints_answer_bad_input_clearly(served: Served, path: str, body: bytes) -> None:
    before = httpx.get(f"{served.url}/admin/clock", headers=served.admin).json()["offset_seconds"]
    r = httpx.post(f"{served.url}{path}", content=body, headers=served.admin)
    assert r.status_code == 400 and r.json()["detail"]
    assert (
        httpx.get(f"{served.url}/admin/clock", headers=served.admin).json()["offset_seconds"] == before
    )  # nothing moved


# ── admission and fees (suites/treatment: JT-ADM, JT-FEE) ─────────────


def in_hospital(served: Served, key: str, hospital: str, cert_type: str = "03") -> tuple[His, Episode]:
    """1101 → 2401 only: the stay is open, with no fees yet."""
    his, card = served.his(hospital), served.card(key)
    info = his.person_info(card, cert_type)
    episode = Episode(info.output, info.output["insuinfo"][0]["insuplc_admdvs"], replies=[info])
    his.admit(episode, cert=credential(card, cert_type))
    return his, episode


def upload_line(his: His, episode: Episode, item: tuple[str, float, float], **values: Any) -> Reply:
    lines = his.fee_lines("2301", episode, [item], sn_prefix="T", med_type="21", fee_ocur_time=NOW, **values)
    return his.call("2301", {"feedetail": lines}, insuplc_admdvs=episode.insuplc_admdvs)


NOW = "2026-11-23 09:00:00"  # the world's first hour: not in the platform's future (R-DATE-04)
BED = ("001101000010000", 2, 50.0)  # Chongqing: 甲类, capped at 40
ICU = ("001101000020000", 1, 180.0)  # Chongqing: 乙类, 10 % pre-self-pay
AIRCON = ("001109000020000", 1, 5.0)  # not in Chongqing's catalog


def test_filed_warned_as_unfiled(served: Served) -> None:
    served.faults(mutants=("filed-warned-as-unfiled",))
    _, episode = in_hospital(served, "P01", "H50000000001")
    assert "备案" in next(r for r in episode.replies if r.infno == "2401").warn_msg


def test_temporary_filing_unknown(served: Served) -> None:
    served.faults(mutants=("temporary-filing-unknown",))
    his, episode = admitted(served, "P04", "H11000000001")  # filed for temporary care (5) in Beijing
    with pytest.raises(Refused, match="E3002"):
        his.presettle(episode)


def test_card_sn_optional(served: Served) -> None:
    served.faults(mutants=("card-sn-optional",))
    his = served.his("H50000000001")  # a card visit without card_sn: neither validated nor checked
    assert his.person_info({**served.card("P01"), "card_sn": None}, "03").ok


def test_accept_lost_card(served: Served) -> None:
    served.faults(mutants=("accept-lost-card",))
    assert served.his("H50000000001").person_info(served.card("P08"), "03").ok


def test_lost_card_blocks_all_credentials(served: Served) -> None:
    served.faults(mutants=("lost-card-blocks-all-credentials",))
    with pytest.raises(Refused, match="E3005"):
        served.his("H50000000001").person_info(served.card("P08"), "02")


def test_ignore_suspended_insurance(served: Served) -> None:
    served.faults(mutants=("ignore-suspended-insurance",))
    assert in_hospital(served, "P16", "H51010000001")[1].mdtrt_id


def test_allow_double_admission(served: Served) -> None:
    served.faults(mutants=("allow-double-admission",))
    his, first = in_hospital(served, "P01", "H50000000001")
    second = Episode(first.person, first.insuplc_admdvs)
    his.admit(second, cert=credential(served.card("P01"), "03"))
    assert second.mdtrt_id != first.mdtrt_id


def test_cancel_admission_with_fees(served: Served) -> None:
    served.faults(mutants=("cancel-admission-with-fees",))
    his, episode = in_hospital(served, "P01", "H50000000001")
    his.upload_fees(episode, served.items("500000", 2))
    assert his.simple(episode, "2404").ok


def test_last_fee_batch_only(served: Served) -> None:
    served.faults(mutants=("last-fee-batch-only",))
    his, episode = in_hospital(served, "P18", "H50000000001")
    his.upload_fees(episode, served.items("500000", 4), batch=2)
    with pytest.raises(Refused, match="E5002"):  # the first batch is gone
        his.presettle(episode)


def test_accept_unlisted_items(served: Served) -> None:
    served.faults(mutants=("accept-unlisted-items",))
    his, episode = in_hospital(served, "P18", "H50000000001")
    assert upload_line(his, episode, AIRCON).output["result"][0]["chrgitm_lv"] == "03"


def test_yi_as_jia(served: Served) -> None:
    served.faults(mutants=("yi-as-jia",))
    his, episode = in_hospital(served, "P18", "H50000000001")
    row = upload_line(his, episode, ICU).output["result"][0]
    assert (row["chrgitm_lv"], row["preselfpay_amt"]) == ("01", 0)


def test_ignore_price_cap(served: Served) -> None:
    served.faults(mutants=("ignore-price-cap",))
    his, episode = in_hospital(served, "P18", "H50000000001")
    assert upload_line(his, episode, BED).output["result"][0]["overlmt_amt"] == 0


def test_refund_counted_positive(served: Served) -> None:
    served.faults(mutants=("refund-counted-positive",))
    his, episode = in_hospital(served, "P18", "H50000000001")
    sn = upload_line(his, episode, BED).output["result"][0]["feedetl_sn"]
    refund = upload_line(his, episode, (BED[0], -2, 50.0), init_feedetl_sn=sn)
    assert refund.output["result"][0]["det_item_fee_sumamt"] > 0


def test_accept_orphan_refund(served: Served) -> None:
    served.faults(mutants=("accept-orphan-refund",))
    his, episode = in_hospital(served, "P18", "H50000000001")
    assert upload_line(his, episode, (BED[0], -1, 50.0), init_feedetl_sn="T000000000NONE").ok


def test_accept_duplicate_feedetl_sn(served: Served) -> None:
    served.faults(mutants=("accept-duplicate-feedetl-sn",))
    his, episode = in_hospital(served, "P18", "H50000000001")
    sn = upload_line(his, episode, BED).output["result"][0]["feedetl_sn"]
    lines = his.fee_lines("2301", episode, [ICU], sn_prefix="T", med_type="21", fee_ocur_time=NOW)
    lines[0]["feedetl_sn"] = sn
    assert his.call("2301", {"feedetail": lines}, insuplc_admdvs=episode.insuplc_admdvs).ok


def test_cancel_fees_cancels_all(served: Served) -> None:
    served.faults(mutants=("cancel-fees-cancels-all",))
    his, episode = in_hospital(served, "P18", "H50000000001")
    his.upload_fees(episode, served.items("500000", 3))
    his.simple(episode, "2302", feedetl_sn=episode.fees[0]["feedetl_sn"])
    assert his.simple(episode, "2404").ok  # nothing left: every line went


def test_no_cancel_all_fees(served: Served) -> None:
    served.faults(mutants=("no-cancel-all-fees",))
    his, episode = in_hospital(served, "P18", "H50000000001")
    his.upload_fees(episode, served.items("500000", 2))
    with pytest.raises(Refused, match="E4008"):
        his.simple(episode, "2302", feedetl_sn="0000")


def test_accept_fees_after_discharge(served: Served) -> None:
    served.faults(mutants=("accept-fees-after-discharge",))
    his, episode = admitted(served, "P18", "H50000000001")  # discharged
    assert his.upload_fees(episode, served.items("500000", 1))[0].ok


# ── settlement and queries (suites/treatment: JT-SET, JT-QRY) ──────────


def setl(episode: Episode) -> dict[str, Any]:
    return dict(episode.settlement["setlinfo"])  # type: ignore[index]


def query(his: His, episode: Episode, infno: str, **data: Any) -> Reply:
    """5203 / 5204 / 5303 with these values in the spec's example of its data node."""
    return his.call(infno, {"data": his.node(infno, "data", **data)}, insuplc_admdvs=episode.insuplc_admdvs)


def test_presettle_ignores_account(served: Served) -> None:
    served.faults(mutants=("presettle-ignores-account",))
    his, episode = admitted(served, "P45", "H50000000001")
    assert his.presettle(episode).output["setlinfo"]["acct_pay"] == 0
    assert his.settle(episode).output["setlinfo"]["acct_pay"] > 0


def test_cash_ignores_account(served: Served) -> None:
    served.faults(mutants=("cash-ignores-account",))
    _, episode = settled(served, "P29", "H51040000001")
    s = setl(episode)  # unbalanced (R-AMT-03), and sent as such
    assert s["acct_pay"] > 0 and s["psn_cash_pay"] == s["psn_part_amt"]


def test_ratio_ignores_level(served: Served) -> None:
    served.faults(mutants=("ratio-ignores-level",))
    _, episode = settled(served, "P02", "H33010000003")  # a primary hospital: 0.92 by the policy
    assert setl(episode)["pool_prop_selfpay"] == 0.85


def test_ignore_annual_cap(served: Served) -> None:
    served.faults(mutants=("ignore-annual-cap",))
    _, episode = settled(served, "P06", "H61010000001", lines=40)  # 8000 left of the cap
    assert setl(episode)["hifp_pay"] > 8000


def test_no_temporary_reduction(served: Served) -> None:
    served.faults(mutants=("no-temporary-reduction",))
    _, episode = settled(served, "P04", "H11000000001")  # temporary care: 0.85 − 0.20 by the policy
    assert setl(episode)["pool_prop_selfpay"] == 0.85


def test_account_overdraft(served: Served) -> None:
    served.faults(mutants=("account-overdraft",))
    _, episode = settled(served, "P49", "H50000000001")  # 300 in the account
    assert setl(episode)["acct_pay"] > 300


def test_account_always_used(served: Served) -> None:
    served.faults(mutants=("account-always-used",))
    his, episode = admitted(served, "P20", "H33010000001")
    assert his.settle(episode, use_account=False).output["setlinfo"]["acct_pay"] > 0


def test_keep_account_on_cancel(served: Served) -> None:
    served.faults(mutants=("keep-account-on-cancel",))
    his, episode = settled(served, "P41", "H51040000001")  # 4100 in the account before
    his.cancel_settlement(episode)
    assert float(ytd(served, "110000", episode.psn_no)["balance"]) < 4100


def test_refuse_mid_settlement(served: Served) -> None:
    served.faults(mutants=("refuse-mid-settlement",))
    his, episode = in_hospital(served, "P35", "H61090000001")
    his.upload_fees(episode, served.items("610000", 3))
    with pytest.raises(Refused, match="E4002"):
        his.settle(episode, mid=True)


def test_settle_without_discharge(served: Served) -> None:
    served.faults(mutants=("settle-without-discharge",))
    his, episode = in_hospital(served, "P36", "H11000000002")
    his.upload_fees(episode, served.items("110000", 3))
    assert his.settle(episode).ok  # mid_setl_flag 0, not discharged


def test_cancel_discharge_noop(served: Served) -> None:
    served.faults(mutants=("cancel-discharge-noop",))
    his, episode = admitted(served, "P28", "H11000000001")  # discharged
    assert his.simple(episode, "2405").ok
    with pytest.raises(Refused, match="E4002"):
        his.upload_fees(episode, served.items("110000", 1))


def test_skip_fee_total_check(served: Served) -> None:
    served.faults(mutants=("skip-fee-total-check",))
    his, episode = admitted(served, "P14", "H51010000001")
    data = his.settlement_data(episode, "2304", use_account=True, mid=False)
    data["medfee_sumamt"] += 100
    for key in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"):
        data.pop(key)
    assert his.call("2304", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs).ok


def test_query_answers_presettlement(served: Served) -> None:
    served.faults(mutants=("query-answers-presettlement",))
    his, episode = in_hospital(served, "P13", "H11000000001")
    his.upload_fees(episode, served.items("110000", 2))
    his.presettle(episode)  # a trial, then more fees
    his.upload_fees(episode, served.items("110000", 4))
    his.discharge(episode)
    his.settle(episode)
    s = setl(episode)
    answer = query(
        his, episode, "5203", psn_no=episode.psn_no, setl_id=s["setl_id"], mdtrt_id=episode.mdtrt_id
    )
    assert answer.output["setlinfo"]["medfee_sumamt"] < s["medfee_sumamt"]


def test_query_ignores_cancellation(served: Served) -> None:
    served.faults(mutants=("query-ignores-cancellation",))
    his, episode = settled(served, "P11", "H61010000001")
    setl_id = setl(episode)["setl_id"]
    his.cancel_settlement(episode)
    answer = query(his, episode, "5203", psn_no=episode.psn_no, setl_id=setl_id, mdtrt_id=episode.mdtrt_id)
    assert answer.output["setlinfo"]["refd_setl_flag"] == "0"


def test_query_by_visit_only(served: Served) -> None:
    served.faults(mutants=("query-by-visit-only",))
    his, episode = settled(served, "P33", "H50000000001")
    unknown = setl(episode)["setl_id"][:-6] + "999999"
    assert query(his, episode, "5203", psn_no=episode.psn_no, setl_id=unknown, mdtrt_id=episode.mdtrt_id).ok


def test_fee_query_includes_cancelled(served: Served) -> None:
    served.faults(mutants=("fee-query-includes-cancelled",))
    his, episode = in_hospital(served, "P23", "H51010000001")
    his.upload_fees(episode, served.items("510000", 3))
    his.simple(episode, "2302", feedetl_sn=episode.fees[0]["feedetl_sn"])
    rows = query(his, episode, "5204", psn_no=episode.psn_no, mdtrt_id=episode.mdtrt_id, setl_id=None).output
    assert len(rows["data"]) == 3


def test_in_hospital_lists_settled(served: Served) -> None:
    served.faults(mutants=("in-hospital-lists-settled",))
    his, episode = settled(served, "P03", "H61010000001")
    today = f"{his.now():%Y-%m-%d}"  # the HIS's clock (the platform's), as the admission carries it
    rows = query(
        his, episode, "5303", psn_no=episode.psn_no, begntime=f"{today} 00:00:00", endtime=f"{today} 23:59:59"
    ).output["data"]
    assert any(r["mdtrt_id"] == episode.mdtrt_id for r in rows)


# ── the insured platform and the hub as the SUT (suites/insured, suites/hub) ──


def platforms(served: Served) -> Sut:
    """The served simulators as the platform-role suites reach them."""
    return Sut(served.sim.spec, served.sim.topology, served.roster, served.url, True, admin=served.admin)


def test_person_info_without_filings(served: Served) -> None:
    served.faults(mutants=("person-info-without-filings",))
    relay = as_hub(platforms(served), "H50000000001")
    assert relay.person_info(served.card("P01"), "02", "H50000000001").output["filinginfo"] == []


def test_reversal_keeps_usage(served: Served) -> None:
    served.faults(mutants=("reversal-keeps-usage",))
    his, episode = settled(served, "P12", "H51010000001")
    his.reverse(episode, episode.settle_msgid, "2304")
    usage = ytd(served, "500000", episode.psn_no)["ytd"]["2026"]
    assert float(usage["deductible:inpatient:3"]) > 0  # still counted after the reversal


def test_cancel_answer_not_negated(served: Served) -> None:
    served.faults(mutants=("cancel-answer-not-negated",))
    relay = as_hub(platforms(served), "H51010000001")
    visit = admitted_via(relay, served.card("P12"), "H51010000001")
    relay.settle(visit)
    assert relay.cancel(visit).output["setlinfo"]["hifp_pay"] > 0


def test_insured_answer_unbalanced(served: Served) -> None:
    served.faults(mutants=("insured-answer-unbalanced",))
    relay = as_hub(platforms(served), "H51010000001")
    s = relay.settle(admitted_via(relay, served.card("P12"), "H51010000001")).output["setlinfo"]
    assert s["fund_pay_sumamt"] == pytest.approx(s["hifp_pay"] + s["hifob_pay"] + s["hifmi_pay"] + 0.01)


def test_hub_misroutes(served: Served) -> None:
    served.faults(mutants=("hub-misroutes",))
    with pytest.raises(Refused) as refused:  # a Sichuan person in Chongqing: Chongqing does not know them
        admitted(served, "P01", "H50000000001")
    assert refused.value.reply.err_msg.startswith("[E3001]")


def test_hub_masks_refusal(served: Served) -> None:
    served.faults(mutants=("hub-masks-refusal",))
    with pytest.raises(Refused) as refused:  # a lost card: Sichuan answers E3005, the hub a system error
        served.his("H50000000001").person_info(served.card("P08"), "03")
    assert refused.value.reply.err_msg.startswith("[E6009]")


def test_outage_as_not_connected(served: Served) -> None:
    served.faults("insured-outage:510000", mutants=("outage-as-not-connected",))
    with pytest.raises(Refused) as refused:
        served.his("H50000000001").person_info(served.card("P01"), "03")
    assert refused.value.reply.err_msg.startswith("[E6007]")


def test_hub_forwards_retries(served: Served) -> None:
    served.faults(mutants=("hub-forwards-retries",))
    province = as_treatment(platforms(served), "H11000000001")
    first = province.settle(admitted_via(province, served.card("P13"), "H11000000001"))
    served.faults("insured-outage:500000", mutants=("hub-forwards-retries",))
    assert province.send(first.request).err_msg.startswith(
        "[E6006]"
    )  # forwarded again, not answered from record


# ── the HIS (suites/his: the reference HIS made wrong, His(mutants=…)) ─────────


def his_with(served: Served, mutant: str, hospital: str = "H50000000001") -> His:
    """The reference HIS of a hospital with one his-role mutant, not yet signed in."""
    return His(served.sim.wire, served.hospital(hospital), mutants={mutant})


def test_his_omits_card_sn(served: Served) -> None:
    his = his_with(served, "his-omits-card-sn")
    his.sign_in()
    with pytest.raises(Refused) as refused:  # a card read without its card_sn: the spec requires it
        his.person_info(served.card("P01"), "03")
    assert "card_sn" not in refused.value.reply.request["input"]["data"]


def test_his_fees_before_admission(served: Served) -> None:
    with pytest.raises(Refused) as refused:
        his_with(served, "his-fees-before-admission").stay(served.card("P01"), served.items("500000", 2))
    assert refused.value.reply.infno == "2301"  # sent before any 2401: no visit to put the fees on


def test_his_feedetl_sn_per_batch(served: Served) -> None:
    his = his_with(served, "his-feedetl-sn-per-batch")
    with pytest.raises(Refused) as refused:  # the second batch reuses the first one's numbers
        his.stay(served.card("P01"), served.items("500000", 4), batch=2)
    assert refused.value.reply.err_msg.startswith("[E4006]")


def test_his_total_last_batch(served: Served) -> None:
    his = his_with(served, "his-total-last-batch")
    episode = his.stay(served.card("P01"), served.items("500000", 4), batch=2)
    his.discharge(episode)
    with pytest.raises(Refused) as refused:
        his.presettle(episode)
    assert refused.value.reply.err_msg.startswith("[E5002]")  # medfee_sumamt is not the uploaded total


def lost_settlement(served: Served, mutant: str) -> tuple[His, Episode]:
    his = his_with(served, mutant)
    episode = his.stay(served.card("P01"), served.items("500000", 2))
    his.discharge(episode)
    his.presettle(episode)
    served.faults("drop-answer:2304*1")
    return his, episode


def test_his_new_msgid_on_retry(served: Served) -> None:
    his, episode = lost_settlement(served, "his-new-msgid-on-retry")
    with pytest.raises(Refused) as refused:  # a second settlement of the settled visit, nothing reversed
        his.settle(episode)
    assert refused.value.reply.infno == "2304"
    assert all(r.infno != "2601" for r in episode.replies)


def test_his_no_reversal(served: Served) -> None:
    his, episode = lost_settlement(served, "his-no-reversal")
    with pytest.raises(Exception, match="HTTP 504"):  # the lost answer is the HIS's last word
        his.settle(episode)
    assert all(r.infno not in ("2601", "2304") for r in episode.replies)


def test_his_cancel_by_medins_setl_id(served: Served) -> None:
    his = his_with(served, "his-cancel-by-medins-setl-id")
    episode = his.inpatient_episode(served.card("P01"), served.items("500000", 2))
    with pytest.raises(Refused) as refused:
        his.cancel_settlement(episode)
    assert refused.value.reply.err_msg.startswith("[E4005]")  # no settlement by that id


def test_his_wrong_signature(served: Served) -> None:
    with pytest.raises(Refused) as refused:
        his_with(served, "his-wrong-signature").sign_in()
    assert refused.value.reply.err_msg.startswith("[E2002]")


def test_his_msgid_format(served: Served) -> None:
    """Platforms accept a msgid of another form (real clients send them): strict validation warns, and the
    his-role certification (JT-CON-301) fails the HIS on it."""
    his = his_with(served, "his-msgid-format")
    his.sign_in()
    message = his.message("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "x"}})
    assert not str(message["msgid"]).startswith(his.hospital.fixmedins_code)
    warned = validate(served.sim.spec, message, strict=True).warnings
    assert [(i.code, i.rule) for i in warned] == [("W1004", "R-ENV-04")]


# ── reliability, security and conformance mutants (treatment role: JT-REL, JT-SEC, JT-CON) ──


def _settlement(his: His, episode: Episode) -> dict[str, Any]:
    data = {"data": his.settlement_data(episode, "2304", use_account=True, mid=False)}
    return his.message("2304", data, insuplc_admdvs=episode.insuplc_admdvs)


def _reverse(his: His, episode: Episode, omsgid: str, oinfno: str) -> Reply:
    data = {"data": {"psn_no": episode.psn_no, "omsgid": omsgid, "oinfno": oinfno}}
    return his.call("2601", data, insuplc_admdvs=episode.insuplc_admdvs, check=False)


def _headers(served: Served, code: str, *, now: float | None = None) -> dict[str, str]:
    h = served.hospital(code)
    return transport.sign_headers(served.sim.spec, h.paasid, h.secret, now=now or time.time())


def _sign_in(his: His) -> dict[str, Any]:
    return his.message("9001", {"signIn": his.node("9001", "signIn", opter_no=his.opter)})


def _read_card(his: His, served: Served, key: str) -> dict[str, Any]:
    card = served.card(key)
    data = {"mdtrt_cert_type": "03", "mdtrt_cert_no": card["cardno"], "card_sn": card["card_sn"]}
    return his.message("1101", {"data": data})


def test_forget_answered_msgid(served: Served) -> None:
    served.faults(mutants=("forget-answered-msgid",))
    his, episode = admitted(served, "P01", "H50000000001")
    message = _settlement(his, episode)
    assert his.send(message).ok
    assert his.send(message).err_msg.startswith("[E4002]")  # handled again, not answered from the record


def test_msgid_ignores_content(served: Served) -> None:
    served.faults(mutants=("msgid-ignores-content",))
    his, episode = admitted(served, "P01", "H50000000001")
    message = _settlement(his, episode)
    first = his.send(message)
    other = {**message, "input": {"data": {**message["input"]["data"], "acct_used_flag": "0"}}}
    assert his.send(other).body == first.body  # no E6001


def test_reversal_changes_nothing(served: Served) -> None:
    served.faults(mutants=("reversal-changes-nothing",))
    his, episode = settled(served, "P12", "H51010000001")
    assert _reverse(his, episode, episode.settle_msgid, "2304").ok
    with pytest.raises(Refused) as refused:
        his.settle(episode)
    assert refused.value.reply.err_msg.startswith("[E4002]")  # still settled


def test_reversal_of_unknown_succeeds(served: Served) -> None:
    served.faults(mutants=("reversal-of-unknown-succeeds",))
    his, episode = admitted(served, "P01", "H50000000001")
    assert _reverse(his, episode, "H50000000001202601010000009999", "2304").ok


def test_no_settlement_lock(served: Served) -> None:
    served.faults("latency:hub=1", mutants=("no-settlement-lock",))
    his, episode = admitted(served, "P01", "H50000000001")
    replies: list[Reply] = []
    start = threading.Barrier(2)

    def send(message: dict[str, Any]) -> None:
        start.wait()
        replies.append(his.send(message))

    threads = [threading.Thread(target=send, args=(_settlement(his, episode),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    loser = next(r for r in replies if not r.ok)
    assert loser.err_msg.startswith("[E4002]")  # the insured side refused; the treatment side never said busy


def test_keep_claim_after_refusal(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")
    served.faults("insured-error:Y2304", mutants=("keep-claim-after-refusal",))
    with pytest.raises(Refused):
        his.settle(episode)
    served.faults(mutants=("keep-claim-after-refusal",))
    with pytest.raises(Refused) as busy:
        his.settle(episode)
    assert busy.value.reply.err_msg.startswith("[E6005]")  # the visit stays claimed


def test_no_claim_recovery(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")
    served.faults("hub-outage", mutants=("no-claim-recovery",))
    with pytest.raises(Refused):
        his.settle(episode)
    served.faults(mutants=("no-claim-recovery",))
    assert httpx.post(f"{served.url}/admin/flush", headers=served.admin).json()["recovered"] == 0


def test_accept_unsigned(served: Served) -> None:
    served.faults(mutants=("accept-unsigned",))
    his = served.his("H51010000001")
    headers = _headers(served, "H51010000001")
    del headers["x-tif-signature"]
    assert his.send(_sign_in(his), headers=headers).ok


def test_remember_gateway_refusals(served: Served) -> None:
    served.faults(mutants=("remember-gateway-refusals",))
    his = served.his("H51010000001")
    message = _sign_in(his)
    forged = {**_headers(served, "H51010000001"), "x-tif-signature": "0" * 64}
    assert his.send(message, headers=forged).err_msg.startswith("[E2002]")
    assert his.send(message).err_msg.startswith("[E2002]")  # the proper resend gets the old refusal


def test_any_paasid_any_institution(served: Served) -> None:
    served.faults(mutants=("any-paasid-any-institution",))
    his = served.his("H50000000001")
    assert his.send(_read_card(his, served, "P01"), headers=_headers(served, "H50000000002")).ok


def test_no_timestamp_window(served: Served) -> None:
    served.faults(mutants=("no-timestamp-window",))
    his = served.his("H51010000001")
    assert his.send(_sign_in(his), headers=_headers(served, "H51010000001", now=time.time() - 3600)).ok


def test_accept_replayed_nonce(served: Served) -> None:
    served.faults(mutants=("accept-replayed-nonce",))
    his = served.his("H51010000001")
    headers = _headers(served, "H51010000001")
    assert his.send(_sign_in(his), headers=headers).ok and his.send(_sign_in(his), headers=headers).ok


def test_other_hospitals_visits(served: Served) -> None:
    served.faults(mutants=("other-hospitals-visits",))
    _, episode = admitted(served, "P01", "H50000000001")
    assert served.his("H50000000002").presettle(episode).ok  # another hospital settles the visit


def test_no_sign_in_check(served: Served) -> None:
    served.faults(mutants=("no-sign-in-check",))
    his = served.his("H50000000001")
    his.sign_no = ""
    assert his.send(_read_card(his, served, "P01")).ok


def test_sign_out_ignored(served: Served) -> None:
    served.faults(mutants=("sign-out-ignored",))
    his = served.his("H50000000001")
    his.call("9002", {"signOut": his.node("9002", "signOut", sign_no=his.sign_no, opter_no=his.opter)})
    assert his.send(_read_card(his, served, "P01")).ok


def _invalid_answer(served: Served, mutant: str, infno: str, run: Any) -> None:
    """With the mutant, the answer to ``infno`` breaks the spec (it left past its own check)."""
    served.faults(mutants=(mutant,))
    replies: list[Reply] = run()
    reply = next(r for r in replies if r.infno == infno)
    assert not validate(served.sim.wire, reply.body, infno=infno, response=True).valid


def test_answer_code_outside_table(served: Served) -> None:
    _invalid_answer(
        served,
        "answer-code-outside-table",
        "1101",
        lambda: [served.his("H50000000001").person_info(served.card("P01"))],
    )


def test_answer_missing_field(served: Served) -> None:
    _invalid_answer(
        served, "answer-missing-field", "2301", lambda: admitted(served, "P01", "H50000000001")[1].replies
    )


def test_answer_money_unbalanced(served: Served) -> None:
    _invalid_answer(
        served, "answer-money-unbalanced", "2303", lambda: settled(served, "P01", "H50000000001")[1].replies
    )


def test_answer_datetime_format(served: Served) -> None:
    _invalid_answer(
        served, "answer-datetime-format", "2304", lambda: settled(served, "P01", "H50000000001")[1].replies
    )


def test_answer_over_length(served: Served) -> None:
    def run() -> list[Reply]:
        his, episode = settled(served, "P01", "H50000000001")
        return [his.cancel_settlement(episode)]

    _invalid_answer(served, "answer-over-length", "2305", run)


def test_answer_decimal_precision(served: Served) -> None:
    def run() -> list[Reply]:
        his, episode = settled(served, "P01", "H50000000001")
        setl_id = episode.settlement["setlinfo"]["setl_id"]  # type: ignore[index]
        data = {"psn_no": episode.psn_no, "setl_id": setl_id, "mdtrt_id": episode.mdtrt_id}
        return [his.call("5204", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs)]

    _invalid_answer(served, "answer-decimal-precision", "5204", run)
