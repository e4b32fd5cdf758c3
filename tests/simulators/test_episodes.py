"""Whole episodes over real HTTP against a running simulator: money, benefits, filing, routing."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from yidi.actors.his import Episode, His, Refused, credential
from yidi.simulators.app import Options
from yidi.simulators.background import serving
from yidi.simulators.store import hub_records, insured_settlements, persons, settlements
from yidi.specs.validate import validate
from yidi.world.policy import Terms

from .conftest import Served

D = Decimal


def admitted(
    served: Served,
    key: str,
    hospital: str,
    *,
    med_type: str = "21",
    lines: int = 6,
    cert_type: str = "03",
    extra: list[tuple[str, float, float]] | None = None,
) -> tuple[His, Episode]:
    his = served.his(hospital)
    card = served.card(key)
    info = his.person_info(card, cert_type)
    episode = Episode(info.output, info.output["insuinfo"][0]["insuplc_admdvs"], replies=[info])
    his.admit(episode, med_type=med_type, cert=credential(card, cert_type))
    province = served.hospital(hospital).gateway.rsplit("/", 1)[-1]
    his.upload_fees(episode, served.items(province, lines) + (extra or []))
    his.discharge(episode)
    return his, episode


def settled(served: Served, key: str, hospital: str, **kw: Any) -> tuple[His, Episode]:
    his, episode = admitted(served, key, hospital, **kw)
    his.presettle(episode)
    his.settle(episode)
    return his, episode


def count(served: Served, table: Any, **where: Any) -> int:
    with served.sim.store.begin() as conn:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        return int(conn.execute(query).scalar_one())


def ytd(served: Served, insured: str, psn_no: str) -> dict[str, Any]:
    with served.sim.store.begin() as conn:
        return dict(
            conn.execute(
                select(persons.c.doc).where(
                    persons.c.node == f"insured:{insured}", persons.c.psn_no == psn_no
                )
            ).scalar_one()
        )


def terms(served: Served, province: str, insutype: str) -> Terms:
    """A province's policy for an insutype as it stands on the simulated day."""
    return served.sim.topology.provinces[province].policies[insutype].on(served.sim.clock.now().date())


def test_a_cross_province_episode_settles_through_the_hub_with_correct_money(served: Served) -> None:
    _, episode = settled(served, "P01", "H50000000001")  # Sichuan retiree, filed to Chongqing
    s = episode.settlement["setlinfo"]  # type: ignore[index]
    assert D(str(s["medfee_sumamt"])) == sum(D(str(r["det_item_fee_sumamt"])) for r in episode.fees)
    # Chongqing's catalog split the fees; Sichuan's employee policy paid: tertiary deductible, 85 % + 5
    policy = terms(served, "510000", "310")
    assert D(str(s["act_pay_dedc"])) == policy.setting("inpatient").deductible.level["3"]
    retired = next(a.add["3"] for a in policy.adjustments if a.who.retired)
    assert D(str(s["pool_prop_selfpay"])) == policy.setting("inpatient").ratio["3"][0].ratio + retired
    expected_pool = (
        (D(str(s["inscp_scp_amt"])) - D(str(s["act_pay_dedc"]))) * D(str(s["pool_prop_selfpay"]))
    ).quantize(D("0.01"))
    assert D(str(s["hifp_pay"])) == expected_pool
    assert validate(served.sim.wire, episode.replies[-1].body, infno="2304", response=True).issues == []
    # the presettlement agreed with the settlement (R-AMT-10)
    pre = episode.presettlement["setlinfo"]  # type: ignore[index]
    assert {k: pre[k] for k in ("fund_pay_sumamt", "psn_part_amt", "hifp_pay")} == {
        k: s[k] for k in ("fund_pay_sumamt", "psn_part_amt", "hifp_pay")
    }
    # one record at each of the three places, with the same money
    assert count(served, settlements, setl_id=s["setl_id"]) == 1
    assert count(served, insured_settlements, setl_id=s["setl_id"], node="insured:510000") == 1
    with served.sim.store.begin() as conn:
        record = conn.execute(select(hub_records).where(hub_records.c.setl_id == s["setl_id"])).one()
    assert (record.treatment, record.insured, record.fund) == (
        "500000",
        "510000",
        round(s["fund_pay_sumamt"] * 100),
    )
    # the insured side booked the year's usage and took the account payment
    usage = ytd(served, "510000", episode.psn_no)["ytd"]["2026"]
    assert D(usage["deductible:inpatient:3"]) == D(str(s["act_pay_dedc"]))
    assert D(usage["cap:inpatient"]) == D(str(s["hifp_pay"])) and D(usage["stays:inpatient"]) == 1


def fee_query(his: His, episode: Episode) -> list[dict[str, Any]]:
    """5204: the visit's fee lines as the platform lists them."""
    return list(
        his.call(
            "5204",
            {"data": {"psn_no": episode.psn_no, "mdtrt_id": episode.mdtrt_id}},
            insuplc_admdvs=episode.insuplc_admdvs,
        ).output["data"]
    )


def test_5203_and_5204_report_what_was_settled(served: Served) -> None:
    his, episode = settled(served, "P01", "H50000000001")
    s = episode.settlement["setlinfo"]  # type: ignore[index]
    query = his.call(
        "5203",
        {"data": {"psn_no": episode.psn_no, "setl_id": s["setl_id"], "mdtrt_id": episode.mdtrt_id}},
        insuplc_admdvs=episode.insuplc_admdvs,
    )
    found = query.output["setlinfo"]
    assert {k: found[k] for k in ("fund_pay_sumamt", "psn_cash_pay", "acct_pay")} == {
        k: s[k] for k in ("fund_pay_sumamt", "psn_cash_pay", "acct_pay")
    }
    assert found["pay_loc"] == "4" and found["refd_setl_flag"] == "0"
    fees = fee_query(his, episode)
    assert sorted(f["feedetl_sn"] for f in fees) == sorted(r["feedetl_sn"] for r in episode.fees)


def totals(his: His, episode: Episode) -> dict[str, Decimal]:
    """5206 as 累计类别 → 累计值 (a total not answered is nothing yet)."""
    rows = his.totals(episode.psn_no, episode.insuplc_admdvs).output.get("cuminfo") or []
    return defaultdict(Decimal, {r["cum_type_code"]: D(str(r["cum"])) for r in rows})


@pytest.mark.parametrize(
    ("key", "hospital"), [("P01", "H50000000001"), ("P09", "H51010000001")], ids=["cross", "local"]
)
def test_5206_answers_the_year_s_totals_as_settlements_and_cancellations_leave_them(
    served: Served, key: str, hospital: str
) -> None:
    his, episode = settled(served, key, hospital)
    before = ytd(served, "510000", episode.psn_no)["ytd"]["2026"]
    s = episode.settlement["setlinfo"]  # type: ignore[index]
    pool = terms(served, "510000", str(s["insutype"])).fund_pay_type
    after = totals(his, episode)
    assert after["C0000"] == D(before["stays:inpatient"])
    assert after["Q0000"] == sum(D(v) for k, v in before.items() if k.startswith("deductible:inpatient:"))
    assert after[f"D{pool[:5]}1"] == D(before["cap:inpatient"])
    his.cancel_settlement(episode)
    undone = totals(his, episode)
    assert undone["C0000"] == after["C0000"] - 1
    assert undone["Q0000"] == after["Q0000"] - D(str(s["act_pay_dedc"]))
    assert undone[f"D{pool[:5]}1"] == after[f"D{pool[:5]}1"] - D(str(s["hifp_pay"]))


def test_5206_refuses_a_malformed_month_naming_the_field(served: Served) -> None:
    his, episode = settled(served, "P01", "H50000000001")
    reply = his.call(
        "5206",
        {"data": {"psn_no": episode.psn_no, "cum_ym": "2026-12"}},
        insuplc_admdvs="510000",
        check=False,
    )
    assert reply.body["infcode"] == -1 and "cum_ym" in reply.err_msg


def test_5204_before_settlement_lists_the_uploaded_lines_without_a_settlement_id(served: Served) -> None:
    his, episode = admitted(served, "P01", "H50000000001")  # a HIS checks its upload before settling
    fees = fee_query(his, episode)
    assert sorted(f["feedetl_sn"] for f in fees) == sorted(r["feedetl_sn"] for r in episode.fees)
    assert {f.get("setl_id") or "" for f in fees} == {""}


def test_a_local_patient_settles_without_the_hub(served: Served) -> None:
    _, episode = settled(served, "P09", "H51010000001")
    assert episode.settlement is not None
    assert count(served, hub_records) == 0
    assert count(served, insured_settlements, node="insured:510000") == 1


def test_the_deductible_is_paid_once_a_year(served: Served) -> None:
    _, first = settled(served, "P12", "H51010000001")  # Chongqing retiree filed to Chengdu
    _, second = settled(served, "P12", "H51010000002")
    assert first.settlement["setlinfo"]["act_pay_dedc"] > 0  # type: ignore[index]
    assert second.settlement["setlinfo"]["act_pay_dedc"] == 0  # type: ignore[index]


def test_a_deductible_already_paid_this_year_is_not_charged_again(served: Served) -> None:
    _, episode = settled(served, "P07", "H50000000001")
    assert episode.settlement["setlinfo"]["act_pay_dedc"] == 0  # type: ignore[index]


def test_a_new_year_resets_the_deductible(served: Served) -> None:
    _, before = settled(served, "P12", "H51010000001")
    httpx.post(
        f"{served.url}/admin/clock", headers=served.admin, json={"set": "2027-01-02T09:00:00"}
    ).raise_for_status()
    _, after = settled(served, "P12", "H51010000001")
    assert before.settlement["setlinfo"]["act_pay_dedc"] == after.settlement["setlinfo"]["act_pay_dedc"] > 0  # type: ignore[index]


def test_the_annual_cap_hands_over_to_the_supplementary_fund(served: Served) -> None:
    big = served.items("610000", 3, quantity=200)  # 342,000 of 350,000 used: this stay passes the cap
    his, episode = admitted(served, "P06", "H61010000001", extra=big)
    his.presettle(episode)
    his.settle(episode)
    s = episode.settlement["setlinfo"]  # type: ignore[index]
    assert s["hifp_pay"] == pytest.approx(8000.0)  # all that was left of the year's cap
    assert s["hifob_pay"] > 0  # 大额医疗费用补助 pays above it
    assert [d["fund_pay_type"] for d in episode.settlement["setldetail"]] == ["310100", "330100"]  # type: ignore[index]


def test_temporary_care_pays_a_lower_ratio(served: Served) -> None:
    _, referral = settled(served, "P03", "H61010000001")  # resident referred to Xi'an (fil_type 4)
    policy = terms(served, "510000", "390")
    expected = policy.setting("inpatient").ratio["3"][0].ratio - policy.temporary_reduction["4"]
    assert D(str(referral.settlement["setlinfo"]["pool_prop_selfpay"])) == expected  # type: ignore[index]


def test_an_emergency_without_a_filing_is_deemed_filed(served: Served) -> None:
    _, episode = settled(served, "P19", "H61010000001", med_type="24")  # 急诊转住院, no filing
    policy = terms(served, "500000", "310")
    expected = policy.setting("inpatient").ratio["3"][0].ratio - policy.temporary_reduction["6"]
    assert D(str(episode.settlement["setlinfo"]["pool_prop_selfpay"])) == expected  # type: ignore[index]


@pytest.mark.parametrize(
    ("key", "hospital", "error"),
    [
        ("P05", "H50000000001", "E3002"),  # not filed
        ("P17", "H61010000001", "E3002"),  # filing revoked
        ("P40", "H50000000001", "E3003"),  # filing expired
        ("P47", "H11000000001", "E3003"),  # expired yesterday
        ("P24", "H51010000001", "E3004"),  # filed for Hangzhou, treated in Chengdu
        ("P41", "H51010000001", "E3004"),  # filed for Panzhihua, treated in Chengdu
    ],
)
def test_settlement_needs_a_valid_filing_for_the_place(
    served: Served, key: str, hospital: str, error: str
) -> None:
    his, episode = admitted(served, key, hospital)
    assert (
        "备案" in episode.replies[1].warn_msg
    )  # admitted, with a warning to file before discharge settlement
    with pytest.raises(Refused) as refused:
        his.settle(episode)
    reply = refused.value.reply
    assert reply.infcode == -2 and reply.err_msg.startswith(f"[{error}]")
    assert count(served, settlements) == 0 and count(served, hub_records) == 0
    his.simple(episode, "2405")  # the visit is back where it was: discharge can be undone


def test_filing_before_discharge_settlement_allows_direct_settlement(served: Served) -> None:
    his, episode = admitted(served, "P05", "H50000000001")  # not filed
    with pytest.raises(Refused):
        his.settle(episode)
    agency = served.sim.topology.agency
    from yidi.simulators.links import HttpLink, Peer

    insured = served.sim.insured["510000"]
    peer = Peer(
        HttpLink("agency", f"{served.url}/prov/510000", served.sim.http),
        served.sim.spec,
        agency,
        name="国家医保服务平台",
        admdvs="000000",
        clock=served.sim.clock,
        faults=served.sim.faults,
        caller="agency",
        store=served.sim.store,
    )
    import asyncio

    async def file() -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            peer.link = HttpLink("agency", f"{served.url}/prov/510000", client)
            return await peer.call(
                "Y2501",
                {
                    "fileinfo": {
                        "psn_no": episode.psn_no,
                        "certno": episode.person["baseinfo"]["certno"],
                        "insutype": "310",
                        "fil_type": "2",
                        "mdtrtarea_admdvs": "500000",
                        "begndate": "2026-11-01",
                    }
                },
                insuplc_admdvs="510100",
            )

    answer = asyncio.run(file())
    assert answer["infcode"] == 0, answer
    assert insured.name == "insured:510000"
    his.settle(episode)
    assert episode.settlement is not None


@pytest.mark.parametrize(
    ("key", "hospital", "cert", "error"),
    [
        ("P08", "H50000000001", "03", "E3005"),  # card reported lost
        ("P46", "H51010000001", "03", "E3005"),  # card cancelled
    ],
)
def test_a_lost_card_is_refused_but_other_credentials_work(
    served: Served, key: str, hospital: str, cert: str, error: str
) -> None:
    his = served.his(hospital)
    with pytest.raises(Refused) as refused:
        his.person_info(served.card(key), cert)
    assert refused.value.reply.err_msg.startswith(f"[{error}]")
    assert his.person_info(served.card(key), "01").ok  # the e-voucher still works


def test_a_wrong_card_sn_is_refused(served: Served) -> None:
    his = served.his("H50000000001")
    card = {**served.card("P01"), "card_sn": "0" * 32}
    with pytest.raises(Refused) as refused:
        his.person_info(card, "03")
    assert refused.value.reply.err_msg.startswith("[E3007]")


def test_suspended_insurance_is_refused_at_admission(served: Served) -> None:
    his = served.his("H51010000001")
    info = his.person_info(served.card("P16"), "02")
    episode = Episode(info.output, info.output["insuinfo"][0]["insuplc_admdvs"])
    with pytest.raises(Refused) as refused:
        his.admit(episode)
    assert refused.value.reply.err_msg.startswith("[E3006]")


def test_admission_needs_the_person_looked_up_first(served: Served) -> None:
    his = served.his("H50000000001")
    person = served.sim.topology.person("P01")
    assert person is not None
    ghost = Episode(
        {
            "baseinfo": {"psn_no": person.psn_no, "certno": person.certno},
            "insuinfo": [{"insutype": person.insutype}],
        },
        person.insuplc_admdvs,
    )
    with pytest.raises(Refused) as refused:
        his.admit(ghost)
    assert refused.value.reply.err_msg.startswith("[E3011]")


def test_a_cross_province_outpatient_visit(served: Served) -> None:
    his = served.his("H33010000001")  # Hangzhou
    episode = his.outpatient_visit(
        served.card("P02"), served.items("330000", 3, quantity=1)
    )  # stationed there
    s = episode.settlement["setlinfo"]  # type: ignore[index]
    policy = terms(served, "510000", "310")
    assert D(str(s["act_pay_dedc"])) <= policy.setting("outpatient").deductible.level["3"]
    assert s["clr_type"] == "11" and s["medfee_sumamt"] == sum(r["det_item_fee_sumamt"] for r in episode.fees)
    assert validate(served.sim.wire, episode.replies[-1].body, infno="2207", response=True).issues == []
    usage = ytd(served, "510000", episode.psn_no)["ytd"]["2026"]
    assert D(usage["deductible:outpatient:3"]) == D(str(s["act_pay_dedc"]))
    cancel = his.call(
        "2208",
        {"data": {"setl_id": s["setl_id"], "mdtrt_id": episode.mdtrt_id, "psn_no": episode.psn_no}},
        insuplc_admdvs=episode.insuplc_admdvs,
    )
    assert cancel.output["setlinfo"]["fund_pay_sumamt"] == -s["fund_pay_sumamt"]
    assert validate(served.sim.wire, cancel.body, infno="2208", response=True).issues == []


def test_item_details_follow_the_category_totals_after_the_fact(served: Served) -> None:
    from yidi.simulators.store import details

    _, episode = settled(served, "P01", "H50000000001")
    setl_id = episode.settlement["setlinfo"]["setl_id"]  # type: ignore[index]
    assert count(served, details) == 0  # only category totals crossed at settlement (实时传大类)
    assert httpx.post(f"{served.url}/admin/flush", headers=served.admin).json()["details_sent"] == 1
    with served.sim.store.begin() as conn:
        lines = [r.line for r in conn.execute(select(details).where(details.c.setl_id == setl_id))]
    assert sorted(line["feedetl_sn"] for line in lines) == sorted(r["feedetl_sn"] for r in episode.fees)
    assert sum(D(str(line["inscp_scp_amt"])) for line in lines) == D(
        str(episode.settlement["setlinfo"]["inscp_scp_amt"])
    )  # type: ignore[index]
    assert (
        httpx.post(f"{served.url}/admin/flush", headers=served.admin).json()["details_sent"] == 0
    )  # sent once


def test_a_cancellation_answers_the_restored_account_balance(served: Served) -> None:
    his, episode = settled(served, "P12", "H51010000001")  # Chongqing retiree, account 4300.00
    paid = D(str(episode.settlement["setlinfo"]["acct_pay"]))  # type: ignore[index]
    assert D(str(episode.settlement["setlinfo"]["balc"])) == D("4300.00") - paid > 0  # type: ignore[index]
    reply = his.cancel_settlement(episode)
    assert D(str(reply.output["setlinfo"]["balc"])) == D("4300.00")  # the account paid back


def test_a_retired_cadres_fund_is_paid_as_other_not_as_basic_insurance(served: Served) -> None:
    """离休人员医疗保障 (340100) is not the basic insurance's pooled fund: its payment is answered in oth_pay
    (world/README.md's table of fund fields), hifp_pay nothing, and the funds still add up."""
    _, episode = settled(served, "P25", "H51010000001")
    s = episode.settlement["setlinfo"]  # type: ignore[index]
    assert D(str(s["oth_pay"])) > 0 and D(str(s["hifp_pay"])) == 0
    funds = ("hifp_pay", "cvlserv_pay", "hifob_pay", "hifmi_pay", "hifes_pay", "maf_pay", "oth_pay")
    assert sum(D(str(s[f])) for f in funds) == D(str(s["fund_pay_sumamt"]))


def _admit(served: Served, key: str, hospital: str) -> Episode:
    his, card = served.his(hospital), served.card(key)
    info = his.person_info(card, "03")
    episode = Episode(info.output, info.output["insuinfo"][0]["insuplc_admdvs"], replies=[info])
    his.admit(episode, med_type="21", cert=credential(card, "03"))
    return episode


def test_who_is_in_hospital_is_kept_through_a_stay_and_found_again_after_a_restart(tmp_path: Path) -> None:
    """Every 2401 asks whether the person is in hospital (R-LIFE-03): answered from memory, kept as a stay
    opens and closes (a settled stay lets the next admission in), and read back after a restart."""
    options = Options(db=f"sqlite:///{tmp_path / 'state.db'}")
    with serving(options) as served:
        his, _ = settled(served, "P01", "H50000000001")
        second = _admit(served, "P01", "H50000000001")  # the settled stay is over
        with pytest.raises(Refused, match=f"E4004.*{second.mdtrt_id}"):
            _admit(served, "P01", "H50000000001")
        his.simple(second, "2404")  # cancelled: over as well
        third = _admit(served, "P01", "H50000000001")
    with serving(options) as served:
        served.sim.clock.advance(timedelta(seconds=2))  # a restart takes a while: msgids stamped anew
        kept = served.sim.treatment["500000"].in_hospital.kept
        assert kept is not None and "treatment:500000" in kept.complete  # known from the start
        with pytest.raises(Refused, match=f"E4004.*{third.mdtrt_id}"):
            _admit(served, "P01", "H50000000002")
