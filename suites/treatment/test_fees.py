"""Fee detail (费用明细) cases against a treatment-province platform: upload (2301) and cancellation (2302).

What a line must be classified as comes from the treatment province's catalog (就医地目录); what the
visit's fees add up to is asked of the SUT itself, by a pre-settlement (2303), which must agree with
the lines the HIS holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from ...actors.his import Episode, His, Refused, Reply
from ...specs.envelope import datetime_text
from ...specs.money import exact_to, yuan
from ...world.topology import CatalogEntry
from ..catalogue import Case
from ..failures import UnexpectedRefusal
from ..plugin import Sut, case
from ..steps import admitted, catalog, close_stay, fail, refused, settled, succeed

PARTS = ("det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")
LEVEL = {"01": "甲类", "02": "乙类", "03": "丙类"}


@contextmanager
def stay(sut: Sut, joint_case: Case) -> Iterator[tuple[His, Episode]]:
    """The case's person admitted at its hospital; whatever the case leaves open is undone afterwards,
    so that the next case can admit the same person."""
    his, episode = admitted(sut, joint_case.person, joint_case.hospital)
    try:
        yield his, episode
    finally:
        close_stay(his, episode)


def entry(sut: Sut, hospital: str, match: Callable[[CatalogEntry], bool]) -> CatalogEntry:
    """The first item of the hospital's catalog that ``match`` accepts."""
    return next(e for e in catalog(sut.world, hospital).values() if match(e))


def plain(level: str) -> Callable[[CatalogEntry], bool]:
    """An item of this level whose usual price is within its cap (nothing over the limit)."""
    return lambda e: e.chrgitm_lv == level and (e.price_cap is None or e.item.price <= e.price_cap)


def lines(his: His, episode: Episode, items: Iterable[tuple[str, float, float]], **values: Any) -> list[Any]:
    """2301 feedetail rows for (national code, quantity, unit price), as the HIS builds them."""
    now = datetime_text(his.now())
    first = len(episode.fees)
    return his.fee_lines(
        "2301", episode, items, sn_prefix="F", first=first, med_type="21", fee_ocur_time=now, **values
    )


def upload(his: His, episode: Episode, rows: list[Any]) -> Reply:
    """【2301】 these rows; the classified lines the SUT answers join the HIS's view of the visit."""
    reply = his.call("2301", {"feedetail": rows}, insuplc_admdvs=episode.insuplc_admdvs)
    episode.fees += reply.output["result"]
    return reply


def cancel(his: His, episode: Episode, feedetl_sn: str) -> Reply:
    """【2302】 one line, or every line with "0000"; the HIS forgets what it cancelled."""
    try:
        reply = his.simple(episode, "2302", feedetl_sn=feedetl_sn)
    except Refused as e:
        which = "全部费用明细（0000）" if feedetl_sn == "0000" else f"费用明细{feedetl_sn}"
        raise UnexpectedRefusal(
            f"撤销{which}应成功，实际应答 {e.reply.err_msg}",
            rule="R-LIFE-04",
            on=e.reply,
            expected={"infcode": 0},
            actual={"infcode": e.reply.infcode, "err_msg": e.reply.err_msg},
        ) from None
    episode.fees = [f for f in episode.fees if feedetl_sn not in ("0000", f["feedetl_sn"])]
    return reply


def totals_agree(his: His, episode: Episode, rule: str) -> None:
    """Pre-settle (2303) with the total of the live lines the HIS holds: the SUT must come to the same."""
    want = yuan(episode.totals()["medfee_sumamt"])
    expected = {"medfee_sumamt": float(want)}
    try:
        reply = his.presettle(episode)
    except Refused as e:
        raise UnexpectedRefusal(
            f"医疗费总额应等于未撤销的费用明细合计{want}，实际应答 {e.reply.err_msg}",
            rule=rule,
            on=e.reply,
            expected=expected,
            actual={"infcode": e.reply.infcode, "err_msg": e.reply.err_msg},
        ) from None
    got = reply.output["setlinfo"]["medfee_sumamt"]
    if yuan(got) != want:
        fail(
            f"医疗费总额应等于未撤销的费用明细合计，实际{got}",
            rule=rule,
            on=reply,
            expected=expected,
            actual={"medfee_sumamt": got},
        )


def classified(e: CatalogEntry, amount: Decimal) -> dict[str, Any]:
    """How the catalog says a line within its price cap splits (R-BEN-05): 甲 in full, 乙 less its
    pre-self-pay share, 丙 self-paid in full."""
    pre = yuan(amount * e.selfpay_prop) if e.chrgitm_lv == "02" else Decimal(0)
    own = amount if e.chrgitm_lv == "03" else Decimal(0)
    parts = {"fulamt_ownpay_amt": own, "preselfpay_amt": pre, "inscp_scp_amt": amount - own - pre}
    return {"chrgitm_lv": e.chrgitm_lv, **{k: float(v) for k, v in parts.items()}}


def split_of(row: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: float(row[k]) if k != "chrgitm_lv" else row[k] for k in keys}


def differences(want: dict[str, Any], got: dict[str, Any]) -> str:
    """What differs, in the test team's words: ``preselfpay_amt应为36.0、实际0.0``."""
    return "；".join(f"{k}应为{want[k]}、实际{got.get(k)}" for k in want if want[k] != got.get(k))


@case("JT-FEE-001")
def test_fees_uploaded_in_batches_add_up(sut: Sut, joint_case: Case) -> None:
    with stay(sut, joint_case) as (his, episode):
        succeed(lambda: his.upload_fees(episode, sut.items(joint_case.hospital, 6), batch=2)[-1])  # 3 batches
        totals_agree(his, episode, "R-AMT-07")


@case("JT-FEE-002")
def test_an_item_outside_the_catalog_is_refused(sut: Sut, joint_case: Case) -> None:
    known = catalog(sut.world, joint_case.hospital)
    code = next(c for c in sorted(sut.world.items) if c not in known)  # in the national list only
    with stay(sut, joint_case) as (his, episode):
        refused(lambda: upload(his, episode, lines(his, episode, [(code, 1, 5.0)])), "E5003", "R-CAT-01")


@case("JT-FEE-003")
def test_each_line_is_classified_as_the_catalog_says(sut: Sut, joint_case: Case) -> None:
    entries = [entry(sut, joint_case.hospital, plain(level)) for level in LEVEL]
    items = [(e.item.code, 2, float(e.item.price)) for e in entries]
    with stay(sut, joint_case) as (his, episode):
        reply = succeed(lambda: upload(his, episode, lines(his, episode, items)))
        for e, row in zip(entries, reply.output["result"], strict=True):
            want = classified(e, yuan(2 * e.item.price))
            got = split_of(row, want)
            if got != want:
                fail(
                    f"{e.item.name}在就医地目录中为{LEVEL[e.chrgitm_lv]}"
                    f"（先行自付比例{e.selfpay_prop}），分割结果应与目录一致：" + differences(want, got),
                    rule="R-BEN-05",
                    on=reply,
                    expected=want,
                    actual=got,
                )


@case("JT-FEE-004")
def test_a_price_above_the_cap_is_over_limit_self_pay(sut: Sut, joint_case: Case) -> None:
    capped = entry(sut, joint_case.hospital, lambda e: e.price_cap is not None)
    cap = capped.price_cap or Decimal(0)
    price = cap + 10
    with stay(sut, joint_case) as (his, episode):
        reply = succeed(
            lambda: upload(his, episode, lines(his, episode, [(capped.item.code, 2, float(price))]))
        )
        row = reply.output["result"][0]
        want = {"pric_uplmt_amt": float(cap), "overlmt_amt": float(yuan(2 * (price - cap)))}
        got = split_of(row, want)
        if got != want:
            fail(
                f"{capped.item.name}单价{price}超过限价{cap}，超出部分应计入超限价自费："
                + differences(want, got),
                rule="R-CAT-02",
                on=reply,
                expected=want,
                actual=got,
            )


@case("JT-FEE-005")
def test_a_refund_line_nets_out_its_original(sut: Sut, joint_case: Case) -> None:
    a, b = (entry(sut, joint_case.hospital, plain(level)) for level in ("02", "01"))
    with stay(sut, joint_case) as (his, episode):
        first = succeed(
            lambda: upload(
                his, episode, lines(his, episode, [(e.item.code, 2, float(e.item.price)) for e in (a, b)])
            )
        )
        original = first.output["result"][0]
        refund_rows = lines(
            his, episode, [(a.item.code, -2, float(a.item.price))], init_feedetl_sn=original["feedetl_sn"]
        )
        refund = succeed(lambda: upload(his, episode, refund_rows))
        want = {k: -float(original[k]) for k in PARTS}
        got = split_of(refund.output["result"][0], PARTS)
        if got != want:
            fail(
                f"退费明细（指向{original['feedetl_sn']}）各分项应为原明细的相反数：{differences(want, got)}",
                rule="R-LIFE-04",
                on=refund,
                expected=want,
                actual=got,
            )
        totals_agree(his, episode, "R-AMT-07")


@case("JT-FEE-006")
def test_a_refund_pointing_at_no_line_is_refused(sut: Sut, joint_case: Case) -> None:
    e = entry(sut, joint_case.hospital, plain("01"))
    with stay(sut, joint_case) as (his, episode):
        succeed(lambda: upload(his, episode, lines(his, episode, [(e.item.code, 1, float(e.item.price))])))
        orphan = lines(
            his, episode, [(e.item.code, -1, float(e.item.price))], init_feedetl_sn="F00000000009999"
        )
        refused(lambda: upload(his, episode, orphan), "E4007", "R-LIFE-04")


@case("JT-FEE-007")
def test_a_fee_line_number_cannot_be_uploaded_twice(sut: Sut, joint_case: Case) -> None:
    a, b = (entry(sut, joint_case.hospital, plain(level)) for level in ("01", "02"))
    with stay(sut, joint_case) as (his, episode):
        first = succeed(
            lambda: upload(his, episode, lines(his, episode, [(a.item.code, 1, float(a.item.price))]))
        )
        again = lines(his, episode, [(b.item.code, 1, float(b.item.price))])
        again[0]["feedetl_sn"] = first.output["result"][0]["feedetl_sn"]
        refused(lambda: upload(his, episode, again), "E4006", "R-LIFE-04")


@case("JT-FEE-008")
def test_cancelling_one_line_keeps_the_others(sut: Sut, joint_case: Case) -> None:
    with stay(sut, joint_case) as (his, episode):
        succeed(lambda: upload(his, episode, lines(his, episode, sut.items(joint_case.hospital, 3))))
        cancel(his, episode, episode.fees[1]["feedetl_sn"])
        totals_agree(his, episode, "R-AMT-07")


@case("JT-FEE-009")
def test_cancelling_every_line_with_0000(sut: Sut, joint_case: Case) -> None:
    items = sut.items(joint_case.hospital, 3)
    with stay(sut, joint_case) as (his, episode):
        succeed(lambda: upload(his, episode, lines(his, episode, items[:2])))
        cancel(his, episode, "0000")
        succeed(lambda: upload(his, episode, lines(his, episode, items[2:])))
        totals_agree(his, episode, "R-AMT-07")


def fees_are_frozen(sut: Sut, his: His, episode: Episode, code: str, rule: str) -> None:
    """Neither a new line (2301) nor the cancellation of an uploaded one (2302) is accepted any more."""
    more = lines(his, episode, sut.items(his.hospital.fixmedins_code, 1))
    refused(lambda: upload(his, episode, more), code, rule)
    sn = episode.fees[0]["feedetl_sn"]
    refused(lambda: his.simple(episode, "2302", feedetl_sn=sn), code, rule)


@case("JT-FEE-010")
def test_no_fee_changes_after_discharge(sut: Sut, joint_case: Case) -> None:
    with stay(sut, joint_case) as (his, episode):
        succeed(lambda: his.upload_fees(episode, sut.items(joint_case.hospital, 2))[0])
        succeed(lambda: his.discharge(episode))
        fees_are_frozen(sut, his, episode, "E4002", "R-LIFE-01")


@case("JT-FEE-011")
def test_no_fee_changes_after_settlement(sut: Sut, joint_case: Case) -> None:
    his, episode = settled(sut, joint_case.person, joint_case.hospital)
    fees_are_frozen(sut, his, episode, "E4009", "R-LIFE-05")


# ── JT-FEE-012 / JT-FEE-013: the split to the cent, serials within one batch ──


def half_cent_price(around: Decimal, ratio: Decimal) -> Decimal:
    """A unit price near ``around`` whose share at ``ratio`` lands on exactly half a cent with an even cent
    below (30.025): half up gives 30.03, half to even 30.02, so only the right rounding passes."""
    for k in range(1, 10000):
        price = around + Decimal(k) / 100
        share = price * ratio
        if exact_to(share, 3) and share % Decimal("0.02") == Decimal("0.005"):
            return price
    raise AssertionError(f"no price near {around} has a half-cent share at {ratio}")


def split_by_catalog(e: CatalogEntry, cnt: int, price: Decimal) -> dict[str, Any]:
    """R-BEN-05 / R-CAT-02 from the rule: the part above the price cap is over-limit self-pay; of the rest
    a 乙 line's pre-self-pay share, rounded half up to the cent; the remainder in policy."""
    amount = yuan(cnt * price)
    over = (
        yuan(cnt * (price - e.price_cap)) if e.price_cap is not None and price > e.price_cap else Decimal(0)
    )
    base = amount - over
    pre = yuan(base * e.selfpay_prop) if e.chrgitm_lv == "02" else Decimal(0)
    own = base if e.chrgitm_lv == "03" else Decimal(0)
    parts = {"overlmt_amt": over, "preselfpay_amt": pre, "fulamt_ownpay_amt": own}
    return {k: float(v) for k, v in (parts | {"inscp_scp_amt": base - own - pre}).items()}


@case("JT-FEE-012")
def test_the_split_of_a_capped_and_a_half_cent_line_to_the_cent(sut: Sut, joint_case: Case) -> None:
    capped = entry(sut, joint_case.hospital, lambda e: e.chrgitm_lv == "02" and e.price_cap is not None)
    share = entry(sut, joint_case.hospital, lambda e: e.chrgitm_lv == "02" and e.price_cap is None)
    cap = capped.price_cap or Decimal(0)
    chosen = [(capped, 2, cap + 10), (share, 1, half_cent_price(share.item.price, share.selfpay_prop))]
    with stay(sut, joint_case) as (his, episode):
        rows = lines(his, episode, [(e.item.code, n, float(p)) for e, n, p in chosen])
        reply = succeed(lambda: upload(his, episode, rows))
        for (e, n, price), row in zip(chosen, reply.output["result"], strict=True):
            want = split_by_catalog(e, n, price)
            got = split_of(row, want)
            if got != want:
                fail(
                    f"{e.item.name}（乙类，先行自付{e.selfpay_prop}，限价{e.price_cap or '无'}）{n}×{price}："
                    "先扣除超限价部分，再按剩余金额计先行自付，四舍五入到分；" + differences(want, got),
                    rule="R-BEN-05",
                    on=reply,
                    expected=want,
                    actual=got,
                )
        totals_agree(his, episode, "R-AMT-07")


@case("JT-FEE-013")
def test_a_serial_repeated_within_one_batch_is_refused(sut: Sut, joint_case: Case) -> None:
    a, b = (entry(sut, joint_case.hospital, plain(level)) for level in ("01", "02"))
    items = [(e.item.code, 1, float(e.item.price)) for e in (a, b)]
    with stay(sut, joint_case) as (his, episode):
        twice = lines(his, episode, items)
        twice[1]["feedetl_sn"] = twice[0]["feedetl_sn"]  # one batch, one serial on two lines
        refused(lambda: upload(his, episode, twice), "E4006", "R-LIFE-04")
        episode.fees = []  # the refused batch left nothing: the same lines, numbered apart, are taken whole
        succeed(lambda: upload(his, episode, lines(his, episode, items)))
        totals_agree(his, episode, "R-AMT-07")
