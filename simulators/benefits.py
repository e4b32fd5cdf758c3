"""The insured location's benefit computation (参保地待遇) on category totals.

Order of payment (settlement-rules.md §2.5): full self-pay, over-limit and pre-self-pay shares are
personal; the in-policy amount first meets what is left of this year's deductible; the pooled fund
pays its ratio (by hospital level, plus the retirees' extra, minus the temporary-care reduction) of
the rest, up to what is left of its annual cap; above the cap a supplementary fund (大额 / 大病) pays
its ratio up to its own cap; the remainder is personal, paid from the personal account first where
the policy and the request allow it, then in cash.

Decimal throughout, each amount rounded half-up to the cent once. A cancellation or reversal is the
exact negative of the stored result, never a recomputation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ..specs.money import ZERO, yuan
from ..world.topology import Policy
from .catalog import Split

ONE = Decimal(1)


@dataclass(frozen=True)
class Usage:
    """What one person has used this insurance year, per care setting."""

    deductible: Decimal = ZERO
    pool: Decimal = ZERO
    supp: Decimal = ZERO

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.deductible + other.deductible, self.pool + other.pool, self.supp + other.supp)

    def __neg__(self) -> Usage:
        return Usage(-self.deductible, -self.pool, -self.supp)


@dataclass(frozen=True)
class Claim:
    """What the treatment side sends: the totals and what the policy needs to know."""

    medfee: Decimal
    split: Split
    dedc_level: str  # 1 / 2 / 3
    outpatient: bool = False
    use_account: bool = False
    fil_type: str | None = None  # the filing the care is under (None: local care)


@dataclass(frozen=True)
class FundLine:
    fund_pay_type: str
    inscp: Decimal  # the in-policy base this fund paid on
    limit: Decimal  # what the fund could still pay (crt_payb_lmt_amt)
    paid: Decimal


@dataclass(frozen=True)
class Result:
    act_pay_dedc: Decimal
    ratio: Decimal
    hifp_pay: Decimal  # pooled fund
    supp_pay: Decimal  # 大额 (hifob) for employees, 大病 (hifmi) for residents
    supp_fund: str | None
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal
    acct_pay: Decimal
    psn_cash_pay: Decimal
    balance_after: Decimal
    lines: tuple[FundLine, ...]
    usage: Usage  # what this settlement adds to the year's usage
    notes: tuple[str, ...] = field(default_factory=tuple)  # 结算过程信息, in Chinese


def ratio_for(policy: Policy, claim: Claim, retired: bool) -> Decimal:
    benefit = policy.outpatient if claim.outpatient else policy.inpatient
    ratio = benefit.ratio[claim.dedc_level] + (policy.retiree_extra if retired else ZERO)
    ratio -= policy.temporary_reduction.get(claim.fil_type or "", ZERO)
    return max(ZERO, min(ONE, ratio))


def settle(policy: Policy, claim: Claim, *, retired: bool, used: Usage, balance: Decimal) -> Result:
    benefit = policy.outpatient if claim.outpatient else policy.inpatient
    notes = []
    deductible_left = max(ZERO, benefit.deductible[claim.dedc_level] - used.deductible)
    dedc = min(claim.split.inscp, deductible_left) if claim.split.inscp > 0 else ZERO
    eligible = claim.split.inscp - dedc
    ratio = ratio_for(policy, claim, retired)
    pool_room = max(ZERO, benefit.annual_cap - used.pool)
    uncapped = yuan(eligible * ratio)
    pool = min(uncapped, pool_room)
    notes.append(
        f"起付线{benefit.deductible[claim.dedc_level]}，本次{dedc}；统筹比例{ratio}；统筹可支付{pool_room}"
    )
    over_cap = ZERO  # the part of the eligible amount the capped pool no longer covers
    if pool < uncapped:
        over_cap = eligible - yuan(pool / ratio)
    supp, lines = ZERO, [FundLine(policy.fund_pay_type, claim.split.inscp, pool_room, pool)]
    if policy.supplementary and over_cap > 0:
        supp_room = max(ZERO, policy.supplementary.annual_cap - used.supp)
        supp = min(yuan(over_cap * policy.supplementary.ratio), supp_room)
        lines.append(FundLine(policy.supplementary.fund_pay_type, over_cap, supp_room, supp))
        notes.append(f"超统筹限额部分{over_cap}，补充保险支付{supp}")
    fund = pool + supp
    personal = claim.medfee - fund
    acct = min(balance, personal) if policy.account and claim.use_account and personal > 0 else ZERO
    return Result(
        act_pay_dedc=dedc,
        ratio=ratio,
        hifp_pay=pool,
        supp_pay=supp,
        supp_fund=policy.supplementary.fund_pay_type if policy.supplementary else None,
        fund_pay_sumamt=fund,
        psn_part_amt=personal,
        acct_pay=acct,
        psn_cash_pay=personal - acct,
        balance_after=balance - acct,
        lines=tuple(lines),
        usage=Usage(dedc, pool, supp),
        notes=tuple(notes),
    )
