"""What a settlement is asked with (:class:`Claim`) and what it must answer (:class:`Expected`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from ...specs.money import ZERO
from .fees import Ranges
from .usage import Usage

# Which setlinfo field a fund's payment lands in: the interface's fact (world/README.md), not the policy's.
FIELD = {
    "310100": "hifp_pay",
    "390100": "hifp_pay",
    "320100": "cvlserv_pay",
    "330100": "hifob_pay",
    "390200": "hifmi_pay",
    "370100": "hifes_pay",
    "350100": "hifdm_pay",
    "610100": "maf_pay",
}
FUND_FIELDS = (
    "hifp_pay",
    "cvlserv_pay",
    "hifob_pay",
    "hifmi_pay",
    "hifes_pay",
    "hifdm_pay",
    "maf_pay",
    "oth_pay",
)


def field_of(fund_pay_type: str) -> str:
    return FIELD.get(fund_pay_type, "oth_pay")


@dataclass(frozen=True)
class Claim:
    """One settlement's request as the insured side sees it: the category totals of the bill (实时传大类),
    the hospital's 起付线 level (1 一级及以下 · 2 二级 · 3 三级), the care setting, the filing it is under,
    and whether the person asks the personal account to pay (acct_used_flag)."""

    ranges: Ranges
    level: str
    setting: str = "inpatient"  # inpatient · outpatient · chronic
    fil_type: str | None = None
    use_account: bool = False

    @property
    def medfee(self) -> Decimal:
        return self.ranges.total


@dataclass(frozen=True)
class FundLine:
    """A setldetail line: the fund, the base it paid on, what it paid (and the counter it keeps)."""

    fund_pay_type: str
    base: Decimal
    paid: Decimal
    counter: str


@dataclass(frozen=True)
class Expected:
    """Every amount a settlement's setlinfo carries, its setldetail fund lines, the usage it adds to its
    year, and the explanation (step, text), in the order the policy applied them."""

    medfee_sumamt: Decimal
    fulamt_ownpay_amt: Decimal
    overlmt_selfpay: Decimal
    preselfpay_amt: Decimal
    inscp_scp_amt: Decimal
    act_pay_dedc: Decimal
    hifp_pay: Decimal
    cvlserv_pay: Decimal
    hifob_pay: Decimal
    hifmi_pay: Decimal
    hifes_pay: Decimal
    hifdm_pay: Decimal
    maf_pay: Decimal
    oth_pay: Decimal
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal
    hosp_part_amt: Decimal
    acct_pay: Decimal
    psn_cash_pay: Decimal
    balc: Decimal  # the account's balance after: a state, not a flow
    pool: Decimal  # the pooled fund's payment, whichever field it lands in
    lines: tuple[FundLine, ...] = ()
    usage: Usage = dataclasses.field(default_factory=Usage)
    steps: tuple[tuple[str, str], ...] = ()

    def setlinfo(self) -> dict[str, Decimal]:
        """The setlinfo amounts by field name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name in SETLINFO}

    def paid_by(self) -> dict[str, Decimal]:
        """What each fund_pay_type paid (two layers of one fund together)."""
        out: dict[str, Decimal] = {}
        for line in self.lines:
            out[line.fund_pay_type] = out.get(line.fund_pay_type, ZERO) + line.paid
        return out

    def negated(self, balc: Decimal, why: str = "撤销") -> Expected:
        """The exact negative (R-AMT-11): what a cancellation or reversal answers, ``balc`` the balance after
        the account is paid back."""
        flows = {name: -getattr(self, name) for name in SETLINFO if name != "balc"}
        return dataclasses.replace(
            self,
            **flows,
            balc=balc,
            pool=-self.pool,
            lines=tuple(dataclasses.replace(x, base=-x.base, paid=-x.paid) for x in self.lines),
            usage=-self.usage,
            steps=((why, "原交易的每项金额取相反数，本年累计使用量回退，个人账户支付退回"),),
        )


SETLINFO = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    *FUND_FIELDS,
    "fund_pay_sumamt",
    "psn_part_amt",
    "hosp_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "balc",
)
