"""The insured side's benefit computation (simulators/benefits.py) on policies written as the world file
writes them (world/README.md): each feature alone, then together, to the cent, and across a dated change."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from yidi.simulators.benefits import Claim, Result, Usage, settle, usage_before
from yidi.simulators.catalog import Split
from yidi.world.policy import Patient, Policy, parse

D = Decimal
DAY = date(2026, 6, 1)
WORKER, RETIREE = Patient("1101", 45), Patient("1201", 68)

EMPLOYEE = yaml.safe_load("""
fund_pay_type: '310100'
account: true
inpatient:
  deductible: {level: {'1': 300, '2': 500, '3': 800}}
  ratio: {level: {'1': 0.90, '2': 0.88, '3': 0.85}}
  annual_cap: 350000
outpatient:
  deductible: {level: {'1': 100, '2': 100, '3': 100}}
  ratio: {level: {'1': 0.60, '2': 0.60, '3': 0.60}}
  annual_cap: 3000
adjustments:
  - {who: {retired: true}, add: 0.05}
temporary_reduction: {'4': 0.10, '5': 0.20, '6': 0.10}
funds:
  - {fund_pay_type: '330100', base: over_cap, bands: [{ratio: 0.90}], annual_cap: 500000}
""")


def policy(**changes: Any) -> Policy:
    """The employee policy with some of its parts replaced (a dotted path each: ``inpatient.ratio``)."""
    raw = copy.deepcopy(EMPLOYEE)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = raw
        for key in parents:
            node = node[key]
        node[last] = value
    return parse("310", raw)


def run(
    p: Policy,
    inscp: str,
    *,
    other: str = "0",
    preselfpay: str = "0",
    level: str = "3",
    setting: str = "inpatient",
    who: Patient = WORKER,
    used: Usage | None = None,
    balance: str = "0",
    account: bool = False,
    fil_type: str | None = None,
    day: date = DAY,
) -> Result:
    split = Split(fulamt_ownpay=D(other), preselfpay=D(preselfpay), inscp=D(inscp))
    c = Claim(split.total, split, level, setting, account, fil_type)
    return settle(p.on(day), c, who, used or Usage(), D(balance))


def test_the_example_visit_of_the_spec() -> None:
    # 10000 = 500 self-paid + 100 over limit + 400 pre-self-pay + 9000 in policy; deductible 800, ratio 85 %
    split = Split(D(500), D(100), D(400), D(9000))
    r = settle(policy().on(DAY), Claim(D(10000), split, "3", use_account=True), WORKER, Usage(), D(30))
    assert (r.act_pay_dedc, r.hifp_pay, r.fund_pay_sumamt) == (D(800), D("6970.00"), D("6970.00"))
    assert (r.psn_part_amt, r.acct_pay, r.psn_cash_pay, r.balance_after) == (D(3030), D(30), D(3000), D(0))
    assert r.usage == Usage(
        {"stays:inpatient": D(1), "deductible:inpatient:3": D(800), "eligible:inpatient": D(8200),
         "inscp:inpatient": D(9000), "cap:inpatient": D("6970.00")}
    )  # fmt: skip
    assert [s.what for s in r.steps] == ["分类", "起付线", "统筹", "统筹", "个人负担"]


# ── deductibles (起付线) ─────────────────────────────────────────────


def test_a_deductible_once_a_year_is_paid_up_to_the_highest_level_met() -> None:
    p = policy()
    first = run(p, "5000", level="1")  # 300 at a level-1 hospital
    assert first.act_pay_dedc == 300
    after = Usage() + first.usage
    assert run(p, "5000", level="1", used=after).act_pay_dedc == 0  # paid this year
    assert run(p, "5000", level="3", used=after).act_pay_dedc == 500  # a tertiary stay pays the difference


def test_a_deductible_paid_separately_at_each_level() -> None:
    p = policy(inpatient__deductible={"level": {"1": 300, "2": 500, "3": 800}, "across_levels": "separate"})
    after = Usage() + run(p, "5000", level="1").usage
    assert run(p, "5000", level="1", used=after).act_pay_dedc == 0
    assert run(p, "5000", level="3", used=after).act_pay_dedc == 800


def test_a_deductible_every_stay_and_halved_for_later_stays() -> None:
    p = policy(
        inpatient__deductible={"level": {"1": 300, "2": 500, "3": 800}, "per": "stay", "later_stays": 0.5}
    )
    first = run(p, "5000")
    second = run(p, "5000", used=Usage() + first.usage)
    third = run(p, "5000", used=Usage() + first.usage + second.usage)
    assert (first.act_pay_dedc, second.act_pay_dedc, third.act_pay_dedc) == (D(800), D(400), D(400))


def test_later_stays_each_with_their_own_share() -> None:
    # 临沂: the 2nd stay of a year pays half the deductible, the 3rd and later none
    p = policy(
        inpatient__deductible={
            "level": {"1": 300, "2": 500, "3": 800},
            "per": "stay",
            "later_stays": [0.5, 0],
        }
    )
    used, paid = Usage(), []
    for _ in range(4):
        r = run(p, "5000", used=used)
        used, paid = used + r.usage, [*paid, r.act_pay_dedc]
    assert paid == [D(800), D(400), D(0), D(0)]


def test_a_referral_has_its_own_deductible() -> None:
    p = policy(
        inpatient__deductible={
            "level": {"1": 300, "2": 500, "3": 800},
            "filings": {"4": {"1": 600, "2": 1000, "3": 1600}},
        }
    )
    assert run(p, "5000", fil_type="4").act_pay_dedc == 1600
    assert run(p, "5000", fil_type="1").act_pay_dedc == 800  # another filing: the level's


def test_a_small_bill_meets_only_part_of_the_deductible() -> None:
    r = run(policy(), "500")
    assert (r.act_pay_dedc, r.hifp_pay, r.psn_part_amt) == (D(500), D(0), D(500))


# ── ratios (统筹支付比例), bands (分段) and adjustments ───────────────────


def test_the_ratio_by_level_retirement_and_temporary_care() -> None:
    p, paid = policy(), Usage({"deductible:inpatient:any": D(800)})
    assert [run(p, "1000", level=x, used=paid).ratio for x in "123"] == [D("0.90"), D("0.88"), D("0.85")]
    assert run(p, "1000", who=RETIREE, used=paid).ratio == D("0.90")
    assert [run(p, "1000", fil_type=f, used=paid).ratio for f in "451"] == [D("0.75"), D("0.65"), D("0.85")]


def test_banded_ratios_pay_each_band_at_its_own_rate() -> None:
    # Lianyungang-like: up to 10000 at 80 %, 10000–100000 at 85 %, above at 90 %
    bands = [{"up_to": 10000, "ratio": 0.80}, {"up_to": 100000, "ratio": 0.85}, {"ratio": 0.90}]
    p = policy(inpatient__ratio={"level": {"1": 0.9, "2": 0.9, "3": bands}})
    r = run(p, "120800")  # 120000 above the deductible
    assert r.hifp_pay == D(8000) + D(76500) + D(18000)
    assert [s.amount for s in r.steps if s.what == "统筹"][:3] == [D(8000), D(76500), D(18000)]


def test_band_bounds_on_the_in_policy_amount_count_the_deductible() -> None:
    # "起付线以上至10万元的部分80%，10万元以上90%": the 10万 counts from 0 on the in-policy amount
    bands = [{"up_to": 100000, "ratio": 0.80}, {"ratio": 0.90}]
    p = policy(inpatient__ratio={"level": {"1": 0.9, "2": 0.9, "3": bands}, "bands_on": "in_policy"})
    r = run(p, "120000")  # 800 deductible, 99200 at 80 %, 20000 at 90 %
    assert r.hifp_pay == D(79360) + D(18000)
    year = policy(
        inpatient__ratio={
            "level": {"1": 0.9, "2": 0.9, "3": bands},
            "bands_on": "in_policy",
            "bands_over": "year",
        }
    )
    first = run(year, "60000")  # 800 deductible, 59200 at 80 %
    second = run(year, "60000", used=Usage() + first.usage)  # in policy 60000–100000 at 80 %, the rest 90 %
    assert (first.hifp_pay, second.hifp_pay) == (D(47360), D(32000) + D(18000))


def test_bands_over_the_year_continue_where_the_last_stay_ended() -> None:
    bands = [{"up_to": 10000, "ratio": 0.80}, {"ratio": 0.90}]
    p = policy(inpatient__ratio={"level": {"1": 0.9, "2": 0.9, "3": bands}, "bands_over": "year"})
    first = run(p, "8800")  # 8000 above the deductible, all in the first band
    second = run(p, "5000", used=Usage() + first.usage)  # 2000 at 80 %, then 3000 at 90 %
    assert (first.hifp_pay, second.hifp_pay) == (D(6400), D(1600) + D(2700))


def test_students_get_more_and_the_ratio_stays_within_nothing_and_everything() -> None:
    p = policy(
        adjustments=[
            {"who": {"psn_type": ["1403", "1404"]}, "add": 0.10},
            {"who": {"retired": True}, "add": 0.20},
        ]
    )
    paid = Usage({"deductible:inpatient:any": D(800)})
    assert run(p, "1000", who=Patient("1403", 15), used=paid).ratio == D("0.95")
    assert run(p, "1000", level="1", who=RETIREE, used=paid).ratio == 1  # 0.90 + 0.20, kept at 1
    harsh = policy(temporary_reduction={"5": 1.50})
    r = run(harsh, "1000", fil_type="5", used=paid)
    assert r.ratio == 0 and r.hifp_pay == 0 and r.psn_part_amt == D(1000)


def test_retirees_by_level_and_by_band() -> None:
    # 临沂 retirees: 95 % / 92.5 % / 90 % below 10万 by level, 95 % above; the workers' 90/85/80 then 90
    workers = {
        "1": 0.90,
        "2": [{"up_to": 100000, "ratio": 0.85}, {"ratio": 0.90}],
        "3": [{"up_to": 100000, "ratio": 0.80}, {"ratio": 0.90}],
    }
    retirees = {
        "1": 0.95,
        "2": [{"up_to": 100000, "ratio": 0.925}, {"ratio": 0.95}],
        "3": [{"up_to": 100000, "ratio": 0.90}, {"ratio": 0.95}],
    }
    p = policy(
        inpatient__ratio={"level": workers}, adjustments=[{"who": {"retired": True}, "ratio": retirees}]
    )
    assert run(p, "120800", who=RETIREE).hifp_pay == D(90000) + D(19000)
    assert run(p, "120800", who=WORKER).hifp_pay == D(80000) + D(18000)
    by_level = policy(adjustments=[{"who": {"retired": True}, "add": {"1": 0.05, "2": 0.04, "3": 0.03}}])
    paid = Usage({"deductible:inpatient:any": D(800)})
    assert [run(by_level, "1000", level=x, who=RETIREE, used=paid).ratio for x in "123"] == [
        D("0.95"),
        D("0.92"),
        D("0.88"),
    ]


def test_by_years_of_contribution() -> None:
    # 宿迁: retirees with 30 years and more get 92.5 % at a tertiary hospital, 20 to 30 years 90 %
    p = policy(
        adjustments=[
            {"who": {"retired": True, "years_from": 20, "years_below": 30}, "ratio": {"3": 0.90}},
            {"who": {"retired": True, "years_from": 30}, "ratio": {"3": 0.925}},
        ],
    )
    paid = Usage({"deductible:inpatient:any": D(800)})
    ratios = [run(p, "1000", who=Patient("1201", 68, years=y), used=paid).ratio for y in (None, 10, 25, 35)]
    assert ratios == [D("0.85"), D("0.85"), D("0.90"), D("0.925")]


def test_over_seventy_and_over_eighty() -> None:
    p = policy(adjustments=[{"who": {"age_from": 70}, "add": 0.02}, {"who": {"age_from": 80}, "add": 0.03}])
    paid = Usage({"deductible:inpatient:any": D(800)})
    ratios = [run(p, "1000", who=Patient("1201", age), used=paid).ratio for age in (69, 70, 80)]
    assert ratios == [D("0.85"), D("0.87"), D("0.90")]


def test_a_retired_cadre_pays_nothing_and_an_assisted_person_no_deductible() -> None:
    p = policy(
        adjustments=[
            {"who": {"psn_type": ["1300"]}, "ratio": 1.00, "deductible": 0, "preselfpay": 0},
            {"who": {"idet": ["2301"]}, "deductible": 0},
        ]
    )
    cadre = run(p, "9000", preselfpay="400", who=Patient("1300", 90))
    assert (cadre.act_pay_dedc, cadre.hifp_pay, cadre.psn_part_amt) == (D(0), D(9400), D(0))
    assisted = run(p, "9000", who=Patient("1501", 40, frozenset({"2301"})))
    assert (assisted.act_pay_dedc, assisted.hifp_pay) == (D(0), D("7650.00"))


def test_half_a_cent_rounds_up() -> None:
    # 800.01 above the deductible at 85 %: 680.0085, paid 680.01; 0.05 at 85 % = 0.0425 → 0.04
    assert run(policy(), "1600.01").hifp_pay == D("680.01")
    assert run(policy(), "800.05").hifp_pay == D("0.04")


# ── caps and the funds after the pooled fund ─────────────────────────


def test_the_cap_stops_the_pool_and_the_large_amount_fund_pays_above_it() -> None:
    used = Usage({"deductible:inpatient:any": D(800), "cap:inpatient": D(349000)})
    r = run(policy(), "10000", used=used)
    assert r.hifp_pay == D(1000)  # all that was left of 350000
    over = D(10000) - D("1176.47")  # 1000 / 0.85 the pool still covered
    assert r.funds == {"330100": D("7941.18")} and D("7941.18") == (over * D("0.90")).quantize(D("0.01"))
    assert [line.fund_pay_type for line in r.lines] == ["310100", "330100"]
    assert r.fund_pay_sumamt == r.hifp_pay + r.funds["330100"]


def test_a_fund_stops_at_its_own_cap() -> None:
    used = Usage({"deductible:inpatient:any": D(800), "cap:inpatient": D(350000), "paid:330100": D(499000)})
    r = run(policy(), "10000", used=used)
    assert (r.hifp_pay, r.funds["330100"], r.fund_pay_sumamt) == (D(0), D(1000), D(1000))
    assert r.lines[1].limit == D(1000) and r.psn_part_amt == D(9000)


def test_a_critical_illness_layer_on_the_personal_share_above_its_threshold() -> None:
    # 大病: the in-policy amount the pooled fund left personal, over 15000 a year, 60 % to 100000 then 70 %
    bands = [{"up_to": 100000, "ratio": 0.60}, {"ratio": 0.70}]
    funds = [
        {
            "fund_pay_type": "390200",
            "base": "personal",
            "threshold": 15000,
            "bands": bands,
            "annual_cap": 400000,
        }
    ]
    p = policy(funds=funds, inpatient__ratio={"level": {"1": 0.5, "2": 0.5, "3": 0.5}})
    first = run(p, "20800")  # deductible 800, pool 10000: 10800 personal, under the threshold
    assert first.funds == {"390200": D(0)}  # considered: a line that paid nothing
    second = run(p, "20000", used=Usage() + first.usage)  # 10000 more personal: 5800 above 15000
    assert second.funds == {"390200": D("3480.00")}  # 5800 × 60 %
    assert second.psn_part_amt == D(20000) - D(10000) - D("3480.00")


def test_a_civil_servant_subsidy_only_for_civil_servants_and_after_the_layers_before_it() -> None:
    funds = [
        {"fund_pay_type": "330100", "base": "over_cap", "bands": [{"ratio": 0.90}], "annual_cap": 500000},
        {"fund_pay_type": "320100", "base": "personal", "bands": [{"ratio": 0.50}], "annual_cap": 50000,
         "who": {"psn_type": ["1102", "1202"]}},
        {"fund_pay_type": "610100", "base": "personal", "bands": [{"ratio": 0.70}], "annual_cap": 30000,
         "who": {"idet": ["2301"]}},
    ]  # fmt: skip
    p = policy(funds=funds)
    servant = run(p, "10800", who=Patient("1102", 40))  # 800 + 1500 personal in policy
    assert servant.funds == {"320100": D(1150)}  # nothing above the cap: the 大额 fund not involved
    assisted = run(p, "10800", who=Patient("1101", 40, frozenset({"2301"})))
    assert assisted.funds == {"610100": D(1610)}
    both = run(p, "10800", who=Patient("1102", 40, frozenset({"2301"})))  # the second fund on what is left
    assert both.funds == {"320100": D(1150), "610100": D(805)}


def test_two_layers_of_one_fund_keep_their_own_counters_and_may_have_no_cap() -> None:
    # 重庆: 大额费用医疗救助 70 % of the in-policy personal share, then 倾斜救助 60 % of the rest above 3000
    funds = [
        {
            "fund_pay_type": "610100",
            "name": "大额费用医疗救助",
            "bands": [{"ratio": 0.70}],
            "annual_cap": 60000,
        },
        {"fund_pay_type": "610100", "name": "倾斜救助", "threshold": 3000, "bands": [{"ratio": 0.60}]},
    ]
    p = policy(
        funds=funds,
        inpatient__deductible={"level": {"1": 100, "2": 300, "3": 800}},
        inpatient__ratio={"level": {"1": 0.8, "2": 0.7, "3": 0.5}},
        inpatient__annual_cap=None,
    )
    r = run(p, "50000", other="2000", level="2", who=Patient("1501", 40, frozenset({"低保边缘"})))
    assert (r.act_pay_dedc, r.hifp_pay, r.funds["610100"]) == (D(300), D(34790), D(10647) + D("937.80"))
    assert r.usage["paid:倾斜救助"] == D("937.80")
    assert r.lines[0].limit == r.hifp_pay  # no cap: what it could pay is what it paid


def test_fund_band_bounds_on_the_base_itself() -> None:
    bands = [{"up_to": 100000, "ratio": 0.60}, {"ratio": 0.70}]
    fund = {"fund_pay_type": "390200", "threshold": 15000, "bands_on": "base", "bands": bands}
    funds = [{**fund, "annual_cap": 400000}]
    p = policy(funds=funds, inpatient__ratio={"level": {"1": 0, "2": 0, "3": 0}})
    r = run(p, "120000")  # all 120000 personal: 15000–100000 at 60 %, 100000–120000 at 70 %
    assert r.funds["390200"] == D(51000) + D(14000)


def test_an_insurance_year_from_july() -> None:
    p = policy(year_start="07-01")
    assert (p.insurance_year(date(2026, 6, 30)), p.insurance_year(date(2026, 7, 1))) == (2025, 2026)
    assert policy().insurance_year(date(2026, 6, 30)) == 2026


def test_a_cap_shared_by_inpatient_and_chronic_outpatient_care() -> None:
    levels = {"1": 0.8, "2": 0.8, "3": 0.8}
    chronic = {
        "deductible": {"level": dict.fromkeys(levels, 0)},
        "ratio": {"level": levels},
        "annual_cap": 350000,
    }
    chronic["cap"] = "inpatient"
    p = policy(chronic=chronic)
    used = Usage({"cap:inpatient": D(349500)})
    r = run(p, "1000", setting="chronic", used=used)
    assert r.hifp_pay == D(500) and r.usage["cap:inpatient"] == D(500)
    assert run(policy(), "1000", setting="chronic", used=used).hifp_pay == D(540)  # none: outpatient's own


# ── dated values ─────────────────────────────────────────────────────


def test_a_deductible_raised_on_the_first_of_january() -> None:
    raised = {"level": {"1": 300, "2": 500, "3": {date(2025, 1, 1): 800, date(2027, 1, 1): 900}}}
    p = policy(inpatient__deductible=raised)
    assert run(p, "5000", day=date(2026, 12, 31)).act_pay_dedc == 800
    assert run(p, "5000", day=date(2027, 1, 1)).act_pay_dedc == 900
    assert p.dates() == [date(2025, 1, 1), date(2027, 1, 1)]


def test_whole_bands_dated() -> None:
    old, new = [{"ratio": 0.80}], [{"up_to": 10000, "ratio": 0.80}, {"ratio": 0.90}]
    p = policy(
        inpatient__ratio={"level": {"1": 0.9, "2": 0.9, "3": {date(2020, 1, 1): old, date(2027, 1, 1): new}}}
    )
    assert run(p, "20800", day=date(2026, 12, 31)).hifp_pay == D(16000)
    assert run(p, "20800", day=date(2027, 1, 1)).hifp_pay == D(8000) + D(9000)


def test_a_value_not_yet_in_force_is_a_problem() -> None:
    from yidi.world.policy import problems

    p = policy(inpatient__annual_cap={date(2027, 1, 1): 400000})
    assert problems(p) == []  # from 2027 on it is complete
    assert problems(p, since=date(2026, 11, 23)) == [
        ("", "no complete policy in force on 2026-11-23: a value of it starts later")
    ]  # a world that starts in 2026 has no cap


# ── the account, and the usage a world file gives ────────────────────


def test_no_account_for_residents_or_when_not_asked() -> None:
    resident = policy(account=False)
    assert run(resident, "100", account=True, balance="99").acct_pay == 0
    assert run(policy(), "100", balance="99").acct_pay == 0
    assert run(policy(), "100", account=True, balance="99").acct_pay == D(99)


def test_usage_before_the_scenarios_becomes_the_years_counters() -> None:
    given = {"deductible": 800, "pool": 342000, "stays": 2, "inscp": 40000, "funds": {"330100": 100}}
    used = usage_before(given, policy().on(DAY))
    assert used == Usage(
        {
            "deductible:inpatient:any": D(800),
            "cap:inpatient": D(342000),
            "stays:inpatient": D(2),
            "inscp:inpatient": D(40000),
            "paid:330100": D(100),
        }
    )
    assert run(policy(), "5000", used=used).act_pay_dedc == 0


def test_a_cancellation_takes_back_exactly_what_its_settlement_added() -> None:
    before = Usage({"deductible:inpatient:any": D(300)})
    r = run(policy(), "9000", used=before)
    assert before + r.usage + (-r.usage) == before + Usage.fromkeys(r.usage, D(0))


@given(
    inscp=st.decimals(min_value=0, max_value=500000, places=2),
    other=st.decimals(min_value=0, max_value=50000, places=2),
    level=st.sampled_from("123"),
    used_pool=st.decimals(min_value=0, max_value=400000, places=2),
    used_dedc=st.decimals(min_value=0, max_value=1000, places=2),
    balance=st.decimals(min_value=0, max_value=20000, places=2),
    setting=st.sampled_from(["inpatient", "outpatient"]),
    banded=st.booleans(),
)
def test_money_always_closes_and_caps_hold(
    inscp: Decimal,
    other: Decimal,
    level: str,
    used_pool: Decimal,
    used_dedc: Decimal,
    balance: Decimal,
    setting: str,
    banded: bool,
) -> None:
    bands = [{"up_to": 20000, "ratio": 0.7}, {"up_to": 80000, "ratio": 0.8}, {"ratio": 0.95}]
    p = policy(inpatient__ratio={"level": {"1": bands, "2": bands, "3": bands}}) if banded else policy()
    used = Usage({"cap:" + setting: used_pool, f"deductible:{setting}:any": used_dedc})
    r = run(
        p,
        str(inscp),
        other=str(other),
        level=level,
        setting=setting,
        used=used,
        balance=str(balance),
        account=True,
    )
    terms = p.on(DAY).setting(setting)
    assert inscp + other == r.fund_pay_sumamt + r.psn_part_amt
    assert r.psn_part_amt == r.acct_pay + r.psn_cash_pay and r.acct_pay <= balance
    assert r.fund_pay_sumamt == sum(line.paid for line in r.lines)
    assert used_pool + r.hifp_pay <= max(terms.annual_cap, used_pool)
    assert used_dedc + r.act_pay_dedc <= max(terms.deductible.level[level], used_dedc)
    assert all(x >= 0 for x in (r.hifp_pay, *r.funds.values(), r.act_pay_dedc, r.psn_cash_pay))


@pytest.mark.parametrize("day", [date(2026, 1, 1), date(2026, 12, 31)])
def test_the_counting_day_decides_the_year_and_the_terms(day: date) -> None:
    from yidi.simulators.insured.settlement import counting_day

    admitted, settled = "2025-12-28 10:00:00", __import__("datetime").datetime(2026, 1, 3, 9)
    assert counting_day("admission", admitted, settled) == date(2025, 12, 28)
    assert counting_day("settlement", admitted, settled) == date(2026, 1, 3)
    assert policy().on(day) is policy().on(day) or policy().on(day) == policy().on(day)
