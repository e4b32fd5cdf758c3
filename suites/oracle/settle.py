"""One settlement's expected answer, computed from the rule text of world/README.md ("The order a
settlement follows") and settlement-rules.md §2.5, §3 — never from yidi's benefit engine:

1. the bill's four ranges, as the treatment side classified them (实时传大类);
2. the 先行自付 a person does not bear moves into the in-policy amount;
3. the deductible due this stay, met by the in-policy amount first;
4. the pooled fund: the rest at the ratio (bands rounded each), up to what is left of its annual cap;
5. the funds in their order, each on its base, above its threshold, by its bands, up to its cap;
6. the personal share = the bill − every fund: the personal account first where allowed, then cash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from ...specs.money import ZERO, yuan
from ...world.policy import Adjustment, Band, Fund, Patient, Setting, Terms
from .bands import ONE, Piece, paid, ratio_bands, walk, within_cap
from .model import FUND_FIELDS, Claim, Expected, FundLine, field_of
from .usage import ANY_LEVEL, Key, Usage

LEVEL_NAMES = {"1": "一级及以下", "2": "二级", "3": "三级"}
Steps = list[tuple[str, str]]  # (step, text): the explanation, in the order applied


def expect(
    terms: Terms, claim: Claim, patient: Patient, year_so_far: Usage, *, balance: Decimal = ZERO
) -> Expected:
    """The answer to ``claim`` under ``terms`` (the policy in force on the counting day) for ``patient``
    (as they are on that day), after the usage ``year_so_far`` of the insurance year it counts in, with
    ``balance`` in the personal account."""
    s = terms.setting(claim.setting)
    balance = yuan(balance)
    who = [a for a in terms.adjustments if a.who.covers(patient)]
    r = claim.ranges
    steps: Steps = []
    steps.append(
        (
            "分类",
            f"医疗费总额{claim.medfee} = 全自费{r.fulamt_ownpay} + 超限价{r.overlmt} + 先行自付{r.preselfpay}"
            f" + 符合政策范围{r.inscp}",
        )
    )

    # 2. 先行自付: the share a person bears is the product of the adjustments' (each applies to what the
    # one before left the person to bear); what moves is the part not borne, rounded as the step names it
    bear = _product(a.preselfpay for a in who if a.preselfpay is not None)
    moved = yuan(r.preselfpay * (ONE - bear))
    preselfpay, inscp = r.preselfpay - moved, r.inscp + moved
    if moved:
        steps.append(("先行自付", f"个人承担先行自付的{bear:.0%}，{moved}计入符合政策范围，共{inscp}"))

    # 3. deductible
    multiple = _product(a.deductible for a in who if a.deductible is not None)
    due, how = deductible_due(s, claim, year_so_far, multiple)
    dedc = max(ZERO, min(due, inscp))
    steps.append(("起付线", f"{how}，本次应付{due}，符合政策范围内支付{dedc}"))

    # 4. the pooled fund
    rest = inscp - dedc
    added: dict[Key, Decimal] = {
        ("stays", s.name): ONE,
        ("deductible", s.name, claim.level): dedc,
        ("inscp", s.name): inscp,
        ("eligible", s.name): rest,
    }
    pool, above = _pool(s, terms, claim, who, year_so_far, dedc, rest, steps)
    added["pool", s.cap] = pool
    lines = [FundLine(terms.fund_pay_type, inscp, pool, s.cap)]

    # 5. the funds, in order
    personal_left = inscp - pool
    for f in terms.funds:
        if not f.who.covers(patient):
            continue
        base = max(ZERO, personal_left) if f.base == "personal" else above
        pay = _fund(f, base, year_so_far + added, steps)
        added["base", f.counter] = added.get(("base", f.counter), ZERO) + base
        added["paid", f.counter] = added.get(("paid", f.counter), ZERO) + pay
        # setldetail: the pooled fund always, a fund where it had a base to pay on (the rules say nothing of
        # lines; a suite should not fail a system for a line of 0 more or less)
        if base or pay:
            lines.append(FundLine(f.fund_pay_type, base, pay, f.counter))
        personal_left -= pay

    # 6. the personal share
    fields = dict.fromkeys(FUND_FIELDS, ZERO)
    for line in lines:
        fields[field_of(line.fund_pay_type)] += line.paid
    funds = sum((x.paid for x in lines), ZERO)
    personal = claim.medfee - funds
    may = terms.account and claim.use_account
    acct = max(ZERO, min(personal, balance)) if may else ZERO
    steps.append(
        (
            "个人负担",
            f"{claim.medfee} − 基金{funds} = {personal}，"
            + (f"个人账户{acct}（余额{balance}），" if may else "个人账户不支付，")
            + f"现金{personal - acct}",
        )
    )
    return Expected(
        medfee_sumamt=claim.medfee,
        fulamt_ownpay_amt=r.fulamt_ownpay,
        overlmt_selfpay=r.overlmt,
        preselfpay_amt=preselfpay,
        inscp_scp_amt=inscp,
        act_pay_dedc=dedc,
        **fields,
        fund_pay_sumamt=funds,
        psn_part_amt=personal,
        hosp_part_amt=ZERO,
        acct_pay=acct,
        psn_cash_pay=personal - acct,
        balc=balance - acct,
        pool=pool,
        lines=tuple(lines),
        usage=Usage(added),
        steps=tuple(steps),
    )


def deductible_due(s: Setting, claim: Claim, used: Usage, multiple: Decimal) -> tuple[Decimal, str]:
    """What this stay owes of the deductible, and how that was found (for the explanation)."""
    d = s.deductible
    by_level = d.filings.get(claim.fil_type or "", d.level)  # a filing's deductible replaces the level's
    amount = by_level.get(claim.level, d.level[claim.level])
    where = f"{LEVEL_NAMES[claim.level]}起付线{amount}" + (f" × {multiple}" if multiple != ONE else "")
    if d.per == "stay":
        before = int(used.of("stays", s.name))
        share = ONE if before == 0 else d.later_stays[min(before, len(d.later_stays)) - 1]
        said = f"，本年第{before + 1}次，按{share:.0%}" if before else "，本年第1次"
        return yuan(amount * multiple * share), f"{where}（每次{said}）"
    # per year: the person's deductible is the amount times the multiple, less what the year has paid —
    # at any level (difference: a higher level pays the difference) or at this one (separate)
    if d.across_levels == "separate":
        paid_before = used.of("deductible", s.name, claim.level) + used.of("deductible", s.name, ANY_LEVEL)
    else:
        paid_before = used.total("deductible", s.name)
    return max(ZERO, yuan(amount * multiple) - paid_before), f"{where}（每年，本年已付{paid_before}）"


def _pool(
    s: Setting,
    terms: Terms,
    claim: Claim,
    who: Sequence[Adjustment],
    used: Usage,
    dedc: Decimal,
    rest: Decimal,
    steps: Steps,
) -> tuple[Decimal, Decimal]:
    """The pooled fund's payment and the amount above its cap (the ``over_cap`` funds' base)."""
    reduction = terms.temporary_reduction.get(claim.fil_type or "", ZERO)
    bands = ratio_bands(s.ratio[claim.level], claim.level, who, reduction)
    # where on the bands' axis this stay's amount above the deductible lies
    if s.bands_over == "year":
        start = used.of("inscp", s.name) + dedc if s.bands_on == "in_policy" else used.of("eligible", s.name)
    else:
        start = dedc if s.bands_on == "in_policy" else ZERO
    pieces = walk(bands, start, start + rest)
    wanted = paid(pieces)
    said = _bands_said(bands) + (f"（临时外出降低{reduction:.0%}）" if reduction else "")
    walked = "；".join(_piece_said(p) for p in pieces) or "无"
    steps.append(("统筹", f"比例{said}：{walked}，计{wanted}"))
    if s.annual_cap is None:
        steps.append(("统筹", f"不设年度限额，统筹支付{wanted}"))
        return wanted, ZERO
    left = max(ZERO, s.annual_cap - used.of("pool", s.cap))
    pool = min(wanted, left)
    above = rest - within_cap(pieces, left) if wanted > left else ZERO
    steps.append(
        (
            "统筹",
            f"年度限额{s.annual_cap}，剩余{left}，统筹支付{pool}" + (f"，{above}超出限额" if above else ""),
        )
    )
    return pool, above


def _fund(f: Fund, base: Decimal, used: Usage, steps: Steps) -> Decimal:
    """What a fund pays on ``base``: the part of the year's running base above its threshold, by its
    bands (their bounds on the base above the threshold, or on the base itself), up to its cap."""
    before = used.of("base", f.counter)
    lo, hi = max(before, f.threshold), before + base
    shift = f.threshold if f.bands_on == "above_threshold" else ZERO
    pieces = walk(f.bands, lo - shift, hi - shift) if hi > lo else []
    wanted = paid(pieces)
    name = f.name or f.fund_pay_type
    kind = "个人负担的符合政策范围金额" if f.base == "personal" else "超出统筹限额的符合政策范围金额"
    text = f"{f.fund_pay_type}{'（' + f.name + '）' if f.name else ''}：基数{base}（{kind}，本年累计{hi}"
    text += f"，起付线{f.threshold}）" + "".join("；" + _piece_said(p) for p in pieces) + f"，计{wanted}"
    if f.annual_cap is None:
        steps.append((name, text + "，不设年度限额"))
        return wanted
    left = max(ZERO, f.annual_cap - used.of("paid", f.counter))
    pay = min(wanted, left)
    steps.append((name, text + f"，年度限额{f.annual_cap}，剩余{left}，支付{pay}"))
    return pay


def _product(values: Iterable[Decimal]) -> Decimal:
    out = ONE
    for v in values:
        out *= v
    return out


def _bands_said(bands: Sequence[Band]) -> str:
    return "、".join(f"{b.ratio:.2%}" + (f"（至{b.up_to}）" if b.up_to is not None else "") for b in bands)


def _piece_said(p: Piece) -> str:
    return f"{p.lo}–{p.hi}部分 × {p.ratio:.2%} = {p.paid}"
