from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from yidi.simulators.benefits import Claim, Usage, settle
from yidi.simulators.catalog import Split
from yidi.world.topology import Benefit, Policy, Supplementary

D = Decimal
LEVELS = {"1": D(300), "2": D(500), "3": D(800)}
EMPLOYEE = Policy(
    insutype="310",
    fund_pay_type="310100",
    inpatient=Benefit(LEVELS, {"1": D("0.90"), "2": D("0.88"), "3": D("0.85")}, D(350000)),
    outpatient=Benefit({k: D(100) for k in "123"}, {k: D("0.60") for k in "123"}, D(3000)),
    retiree_extra=D("0.05"),
    supplementary=Supplementary("330100", D("0.90"), D(500000)),
    account=True,
    temporary_reduction={"4": D("0.10"), "6": D("0.10"), "5": D("0.20")},
)


def claim(inscp: str, other: str = "0", **kw: object) -> Claim:
    split = Split(fulamt_ownpay=D(other), inscp=D(inscp))
    return Claim(medfee=split.total, split=split, dedc_level=kw.pop("level", "3"), **kw)  # type: ignore[arg-type]


def test_the_example_visit_of_the_spec() -> None:
    # 10000 = 500 self-paid + 100 over limit + 400 pre-self-pay + 9000 in policy; deductible 800, ratio 85 %
    split = Split(D(500), D(100), D(400), D(9000))
    r = settle(
        EMPLOYEE, Claim(D(10000), split, "3", use_account=True), retired=False, used=Usage(), balance=D(30)
    )
    assert (r.act_pay_dedc, r.hifp_pay, r.fund_pay_sumamt) == (D(800), D("6970.00"), D("6970.00"))
    assert (r.psn_part_amt, r.acct_pay, r.psn_cash_pay, r.balance_after) == (D(3030), D(30), D(3000), D(0))
    assert r.usage == Usage(D(800), D("6970.00"), D(0))


def test_the_deductible_is_paid_once_a_year() -> None:
    r = settle(EMPLOYEE, claim("5000"), retired=False, used=Usage(deductible=D(800)), balance=D(0))
    assert r.act_pay_dedc == 0 and r.hifp_pay == D("4250.00")
    partly = settle(EMPLOYEE, claim("5000"), retired=False, used=Usage(deductible=D(500)), balance=D(0))
    assert partly.act_pay_dedc == D(300)


def test_the_ratio_depends_on_hospital_level_retirement_and_temporary_care() -> None:
    def ratio(**kw: object) -> Decimal:
        retired = bool(kw.pop("retired", False))
        return settle(
            EMPLOYEE, claim("1000", **kw), retired=retired, used=Usage(deductible=D(800)), balance=D(0)
        ).ratio

    assert (ratio(level="1"), ratio(level="2"), ratio(level="3")) == (D("0.90"), D("0.88"), D("0.85"))
    assert ratio(retired=True) == D("0.90")
    assert (
        ratio(fil_type="4") == D("0.75")
        and ratio(fil_type="5") == D("0.65")
        and ratio(fil_type="1") == D("0.85")
    )


def test_the_cap_stops_the_pool_and_the_supplementary_fund_pays_above_it() -> None:
    used = Usage(deductible=D(800), pool=D(349000))
    r = settle(EMPLOYEE, claim("10000"), retired=False, used=used, balance=D(0))
    assert r.hifp_pay == D(1000)  # all that was left of 350000
    over = D(10000) - (D(1000) / D("0.85")).quantize(D("0.01"))  # 8823.53 the pool no longer covers
    assert r.supp_pay == (over * D("0.90")).quantize(D("0.01"))
    assert [line.fund_pay_type for line in r.lines] == ["310100", "330100"]
    assert r.fund_pay_sumamt == r.hifp_pay + r.supp_pay


def test_no_account_for_residents_or_when_not_asked() -> None:
    resident = Policy("390", "390100", EMPLOYEE.inpatient, EMPLOYEE.outpatient)
    assert (
        settle(resident, claim("100", use_account=True), retired=False, used=Usage(), balance=D(99)).acct_pay
        == 0
    )
    assert settle(EMPLOYEE, claim("100"), retired=False, used=Usage(), balance=D(99)).acct_pay == 0


@given(
    inscp=st.decimals(min_value=0, max_value=500000, places=2),
    other=st.decimals(min_value=0, max_value=50000, places=2),
    level=st.sampled_from("123"),
    used_pool=st.decimals(min_value=0, max_value=400000, places=2),
    used_dedc=st.decimals(min_value=0, max_value=1000, places=2),
    balance=st.decimals(min_value=0, max_value=20000, places=2),
    outpatient=st.booleans(),
)
def test_money_always_closes_and_caps_hold(
    inscp: Decimal,
    other: Decimal,
    level: str,
    used_pool: Decimal,
    used_dedc: Decimal,
    balance: Decimal,
    outpatient: bool,
) -> None:
    c = claim(str(inscp), str(other), level=level, outpatient=outpatient, use_account=True)
    used = Usage(used_dedc, used_pool, D(0))
    r = settle(EMPLOYEE, c, retired=False, used=used, balance=balance)
    benefit = EMPLOYEE.outpatient if outpatient else EMPLOYEE.inpatient
    assert c.medfee == r.fund_pay_sumamt + r.psn_part_amt
    assert r.psn_part_amt == r.acct_pay + r.psn_cash_pay and r.acct_pay <= balance
    assert r.fund_pay_sumamt == sum(line.paid for line in r.lines)
    assert used.pool + r.hifp_pay <= max(benefit.annual_cap, used.pool)
    assert used.deductible + r.act_pay_dedc <= max(benefit.deductible[level], used.deductible)
    assert all(x >= 0 for x in (r.hifp_pay, r.supp_pay, r.act_pay_dedc, r.psn_cash_pay))


def test_the_ratio_stays_between_nothing_and_everything() -> None:
    generous = replace(EMPLOYEE, retiree_extra=D("0.20"))  # 0.90 + 0.20 at a level-1 hospital
    r = settle(generous, claim("1000", level="1"), retired=True, used=Usage(deductible=D(300)), balance=D(0))
    assert r.ratio == 1 and r.hifp_pay == D(1000) and r.psn_part_amt == 0
    harsh = replace(EMPLOYEE, temporary_reduction={"5": D("1.50")})
    r = settle(harsh, claim("1000", fil_type="5"), retired=False, used=Usage(deductible=D(800)), balance=D(0))
    assert r.ratio == 0 and r.hifp_pay == 0 and r.psn_part_amt == D(1000)


def test_the_supplementary_fund_stops_at_its_own_cap() -> None:
    used = Usage(deductible=D(800), pool=D(350000), supp=D(499000))  # the pool spent, 1000 left above it
    r = settle(EMPLOYEE, claim("10000"), retired=False, used=used, balance=D(0))
    assert (r.hifp_pay, r.supp_pay, r.fund_pay_sumamt) == (D(0), D(1000), D(1000))
    assert r.lines[1].limit == D(1000) and r.usage == Usage(D(0), D(0), D(1000))
    assert r.psn_part_amt == D(9000)
