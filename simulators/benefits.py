"""The insured location's benefit computation (参保地待遇) on the category totals it receives, in the order
the policy applies them (world/README.md): the 先行自付 a person does not bear, the deductible, the pooled
fund by its ratio or bands up to its cap, the funds after it, the personal account, the cash. Each step
is written down as it is taken (``Result.steps``): the settlement's explanation.

Decimal throughout, each band and each fund rounded half up to the cent once. A year's usage is a flat
mapping of counters (:class:`Usage`); a settlement adds its own, and a cancellation or reversal takes
exactly that back, never a recomputation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ..specs.money import ZERO, half_even, yuan
from ..world.policy import ONE, Band, Fund, Patient, Setting, Terms, bands_text
from .catalog import Split


class Usage(dict[str, Decimal]):
    """A year's usage by counter: ``stays:inpatient``, ``deductible:inpatient:3`` (paid at a level;
    ``any``: at a level not known), ``eligible:inpatient`` (the amount above the deductible, for bands
    over the year), ``cap:inpatient`` (what the pooled fund paid into a cap), ``base:390200`` and
    ``paid:390200`` (a fund's running base and payments)."""

    def get_(self, key: str) -> Decimal:
        return self.get(key, ZERO)

    def __add__(self, other: Mapping[str, Decimal]) -> Usage:
        keys = set(self) | set(other)
        return Usage({k: self.get(k, ZERO) + other.get(k, ZERO) for k in sorted(keys)})

    def __neg__(self) -> Usage:
        return Usage({k: -v for k, v in self.items()})


@dataclass(frozen=True)
class Claim:
    """What the treatment side sends, and what the policy needs to know of the care."""

    medfee: Decimal
    split: Split
    level: str  # dedc_hosp_lv 1 / 2 / 3
    setting: str = "inpatient"  # inpatient · outpatient · chronic
    use_account: bool = False
    fil_type: str | None = None  # the filing the care is under (None: at home)


@dataclass(frozen=True)
class FundLine:
    fund_pay_type: str
    inscp: Decimal  # the base this fund paid on
    limit: Decimal  # what the fund could still pay (crt_payb_lmt_amt)
    paid: Decimal


@dataclass(frozen=True)
class Step:
    """One step of the computation as the explanation shows it."""

    what: str  # 分类 · 先行自付 · 起付线 · 统筹 · a fund's name · 个人负担
    text: str  # in Chinese, with its figures
    amount: Decimal | None = None


@dataclass(frozen=True)
class Result:
    act_pay_dedc: Decimal
    ratio: Decimal  # the pooled fund's ratio (of its first band, adjusted)
    hifp_pay: Decimal  # the pooled fund
    funds: Mapping[str, Decimal]  # the funds after it, by fund_pay_type
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal
    acct_pay: Decimal
    psn_cash_pay: Decimal
    balance_after: Decimal
    lines: tuple[FundLine, ...]
    usage: Usage  # what this settlement adds to the year's usage
    steps: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(f"{s.what}：{s.text}" for s in self.steps)


def _walk(bands: Iterable[Band], start: Decimal, amount: Decimal) -> list[tuple[Decimal, Decimal, Decimal]]:
    """The pieces of [start, start + amount) within each band: (from, to, ratio)."""
    pieces, low, end = [], ZERO, start + amount
    for band in bands:
        high = band.up_to if band.up_to is not None else max(end, low)
        a, b = max(low, start), min(high, end)
        if b > a:
            pieces.append((a, b, band.ratio))
        low = high
        if low >= end:
            break
    return pieces


def _adjusted(s: Setting, terms: Terms, claim: Claim, patient: Patient) -> tuple[Band, ...]:
    """The level's bands as the adjustments for this person change them (in order: a ratio replaces the
    bands, points are added to each), less the temporary reduction, each within 0–1."""
    level, bands = claim.level, s.ratio[claim.level]
    for a in terms.adjustments:
        if a.who.covers(patient):
            bands = (a.ratio or {}).get(level, bands)
            points = a.add.get(level, ZERO)
            bands = tuple(Band(b.ratio + points, b.up_to) for b in bands)
    off = terms.temporary_reduction.get(claim.fil_type or "", ZERO)
    return tuple(Band(max(ZERO, min(ONE, b.ratio - off)), b.up_to) for b in bands)


def _room(cap: Decimal | None, used: Decimal) -> Decimal | None:
    """What is left of an annual cap (None: no cap)."""
    return None if cap is None else max(ZERO, cap - used)


def _multiple(terms: Terms, patient: Patient, what: str) -> Decimal:
    """The product of the adjustments' ``deductible`` or ``preselfpay`` for this person (1: none)."""
    found = ONE
    for a in terms.adjustments:
        value = getattr(a, what)
        if value is not None and a.who.covers(patient):
            found *= value
    return found


def deductible_due(s: Setting, claim: Claim, used: Usage, multiple: Decimal = ONE) -> tuple[Decimal, str]:
    """What of the deductible this stay must still meet, and why. The person's ``multiple`` scales the
    deductible itself (a yearly one is then met once), and the product is rounded once."""
    d, setting = s.deductible, s.name  # 门诊慢特病 without a setting of its own counts as outpatient
    amount = d.amount(claim.level, claim.fil_type)
    scaled = "" if multiple == ONE else f"×{multiple}"
    if d.per == "stay":
        stays = int(used.get_(f"stays:{setting}"))
        share = d.share(stays)
        due = yuan(amount * share * multiple)
        return due, f"每次住院起付线{amount}{scaled}" + (
            f"，本年第{stays + 1}次按{share:.0%}计{due}" if stays else ""
        )
    paid_here = used.get_(f"deductible:{setting}:{claim.level}") + used.get_(f"deductible:{setting}:any")
    paid_any = sum((v for k, v in used.items() if k.startswith(f"deductible:{setting}:")), ZERO)
    paid = paid_any if d.across_levels == "difference" else paid_here
    due = max(ZERO, yuan(amount * multiple) - paid)
    return due, f"本年起付线{amount}{scaled}，已支付{paid}，本次应付{due}"


def settle(
    terms: Terms, claim: Claim, patient: Patient, used: Usage, balance: Decimal, *, even: bool = False
) -> Result:
    """One settlement under ``terms`` for ``patient``, whose year so far is ``used`` (``even``: the
    pool-bankers-rounding mutant rounds the pooled fund half to even)."""
    s = terms.setting(claim.setting)
    setting = s.name  # the counters it keeps: 门诊慢特病 without a setting of its own is outpatient
    split, steps, delta = claim.split, [], Usage({f"stays:{setting}": ONE})
    steps.append(
        Step(
            "分类",
            f"医疗费总额{claim.medfee} = 全自费{split.fulamt_ownpay} + 超限价{split.overlmt} + "
            f"先行自付{split.preselfpay} + 符合政策范围{split.inscp}",
            claim.medfee,
        )
    )
    inscp = split.inscp
    borne = _multiple(terms, patient, "preselfpay")
    if borne != ONE and split.preselfpay:
        moved = yuan(split.preselfpay * (ONE - borne))
        inscp += moved
        steps.append(
            Step("先行自付", f"个人承担先行自付的{borne:.0%}，{moved}计入符合政策范围，共{inscp}", moved)
        )

    due, why = deductible_due(s, claim, used, _multiple(terms, patient, "deductible"))
    dedc = min(max(inscp, ZERO), due)
    delta[f"deductible:{setting}:{claim.level}"] = dedc
    steps.append(Step("起付线", f"{why}，本次支付{dedc}", dedc))

    eligible = max(inscp - dedc, ZERO)
    bands = _adjusted(s, terms, claim, patient)
    # where this stay's amount above the deductible sits on the axis the band bounds measure
    in_policy = s.bands_on == "in_policy"
    year_so_far = used.get_(f"{'inscp' if in_policy else 'eligible'}:{setting}")
    start = (year_so_far if s.bands_over == "year" else ZERO) + (dedc if in_policy else ZERO)
    room = _room(s.annual_cap, used.get_(f"cap:{s.cap}"))
    pool, over_cap, pool_steps = _pool(bands, start, eligible, room, even)
    cap = "不设年度限额" if room is None else f"年度限额{s.annual_cap}，剩余{room}"
    steps += [*pool_steps, Step("统筹", f"比例{bands_text(bands)}，{cap}，统筹支付{pool}", pool)]
    delta |= {f"eligible:{setting}": eligible, f"inscp:{setting}": max(inscp, ZERO)}
    delta[f"cap:{s.cap}"] = pool
    lines = [FundLine(terms.fund_pay_type, inscp, pool if room is None else room, pool)]

    paid: dict[str, Decimal] = {}
    personal = inscp - pool  # the in-policy amount still personal
    for fund in terms.funds:
        base = over_cap if fund.base == "over_cap" else personal
        if base <= 0 or not fund.who.covers(patient):  # nothing for this fund in this stay
            continue
        pay, line, fund_steps = _fund(fund, base, used, delta)
        paid[fund.fund_pay_type] = paid.get(fund.fund_pay_type, ZERO) + pay
        personal -= pay
        lines.append(line)
        steps += fund_steps

    fund_sum = pool + sum(paid.values(), ZERO)
    psn = claim.medfee - fund_sum
    acct = min(balance, psn) if terms.account and claim.use_account and psn > 0 and balance > 0 else ZERO
    steps.append(
        Step("个人负担", f"{claim.medfee} − 基金{fund_sum} = {psn}，个人账户{acct}，现金{psn - acct}", psn)
    )
    return Result(
        act_pay_dedc=dedc,
        ratio=bands[0].ratio,
        hifp_pay=pool,
        funds=paid,
        fund_pay_sumamt=fund_sum,
        psn_part_amt=psn,
        acct_pay=acct,
        psn_cash_pay=psn - acct,
        balance_after=balance - acct,
        lines=tuple(lines),
        usage=Usage({k: v for k, v in delta.items() if v}),
        steps=tuple(steps),
    )


def _pool(
    bands: tuple[Band, ...], start: Decimal, eligible: Decimal, room: Decimal | None, even: bool = False
) -> tuple[Decimal, Decimal, list[Step]]:
    """The pooled fund on ``eligible`` from ``start`` on the bands' axis, band by band, up to ``room``: what
    it pays, the part of the amount above its cap, and a step per band."""
    pool, over_cap, left, steps = ZERO, ZERO, room, []
    for low, high, ratio in _walk(bands, start, eligible):
        piece = high - low
        pay = full = (half_even if even else yuan)(piece * ratio)
        text = f"{low}–{high}部分{piece} × {ratio:.2%} = {full}"
        if left is not None and pay > left:  # the cap reached in this piece: the rest is above it
            covered = yuan(left / ratio) if ratio else ZERO
            over_cap += piece - covered
            pay = left
            text += f"，达年度限额，支付{pay}（{piece - covered}超出限额）"
        left = None if left is None else left - pay
        pool += pay
        steps.append(Step("统筹", text, pay))
    return pool, over_cap, steps


def _fund(fund: Fund, base: Decimal, used: Usage, delta: Usage) -> tuple[Decimal, FundLine, list[Step]]:
    """A fund after the pooled one on this stay's ``base``: above its threshold on the year's running base,
    by its bands, up to its cap."""
    code, counter = fund.fund_pay_type, fund.counter
    base = max(base, ZERO)
    # funds keeping one counter share it: a layer sees the year and this settlement's earlier layers
    before = used.get_(f"base:{counter}") + delta.get_(f"base:{counter}")
    delta[f"base:{counter}"] = delta.get_(f"base:{counter}") + base
    room = _room(fund.annual_cap, used.get_(f"paid:{counter}") + delta.get_(f"paid:{counter}"))
    # the part of [before, before + base) above the threshold, on the axis the band bounds measure
    low = max(before, fund.threshold)
    above = max(before + base - low, ZERO)
    start = low if fund.bands_on == "base" else low - fund.threshold
    pay, steps = ZERO, []
    for a, b, ratio in _walk(fund.bands, start, above):
        piece = yuan((b - a) * ratio)
        pay += piece
        steps.append(Step(code, f"{a}–{b}部分 × {ratio:.2%} = {piece}", piece))
    pay = pay if room is None else min(pay, room)
    delta[f"paid:{counter}"] = delta.get_(f"paid:{counter}") + pay
    cap = "不设年度限额" if room is None else f"年度限额{fund.annual_cap}，剩余{room}"
    text = f"基数{base}（本年累计{before + base}，起付线{fund.threshold}），{cap}，支付{pay}"
    steps.append(Step(code, text, pay))
    return pay, FundLine(code, base, pay if room is None else room, pay), steps


def usage_before(ytd: Mapping[str, object], terms: Terms) -> Usage:
    """A world file's usage before the scenarios (one year's: ``deductible`` and ``pool`` paid in hospital,
    ``stays``, the running ``inscp`` and ``eligible`` amounts bands over the year continue from, ``funds``
    paid by fund_pay_type) as this year's counters."""
    inpatient = terms.setting("inpatient")
    counters = {
        "deductible:inpatient:any": ytd.get("deductible"),
        f"cap:{inpatient.cap}": ytd.get("pool"),
        "stays:inpatient": ytd.get("stays"),
        "inscp:inpatient": ytd.get("inscp"),
        "eligible:inpatient": ytd.get("eligible"),
    }
    funds = ytd.get("funds") or {}
    assert isinstance(funds, Mapping)
    counters |= {f"paid:{code}": paid for code, paid in funds.items()}
    return Usage({k: yuan(v) for k, v in counters.items() if v is not None})


def usage_of(doc: Mapping[str, object]) -> Usage:
    """Counters as the state keeps them (text)."""
    return Usage({str(k): yuan(v) for k, v in doc.items()})
