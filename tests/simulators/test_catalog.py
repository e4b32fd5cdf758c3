from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from yidi.simulators.catalog import Split, categories, classify
from yidi.specs.money import yuan
from yidi.world.topology import CatalogEntry, Item

D = Decimal
DRUG = Item("XA01", "阿莫西林胶囊", "09", "101", D("12.50"))


def entry(lv: str, selfpay: str = "0", cap: str | None = None) -> CatalogEntry:
    return CatalogEntry(DRUG, lv, D(selfpay), D(cap) if cap else None)


def test_class_a_is_all_in_policy() -> None:
    assert classify(entry("01"), 2, 12.5, 25.0) == Split(inscp=D("25.00"))


def test_class_b_pays_its_self_pay_share_first() -> None:
    assert classify(entry("02", "0.10"), 3, 33.33, 99.99) == Split(preselfpay=D("10.00"), inscp=D("89.99"))


def test_class_c_is_fully_self_paid() -> None:
    assert classify(entry("03", "1"), 1, 300, 300) == Split(fulamt_ownpay=D("300.00"))


def test_the_part_above_the_price_cap_is_over_limit_self_pay() -> None:
    split = classify(entry("02", "0.20", cap="40.00"), 2, 50, 100)
    assert split == Split(overlmt=D("20.00"), preselfpay=D("16.00"), inscp=D("64.00"))


@given(
    lv=st.sampled_from(["01", "02", "03"]),
    selfpay=st.decimals(min_value=0, max_value=1, places=2),
    cnt=st.decimals(min_value=-50, max_value=50, places=2).filter(bool),
    pric=st.decimals(min_value=D("0.01"), max_value=10000, places=2),
    cap=st.one_of(st.none(), st.decimals(min_value=D("0.01"), max_value=10000, places=2)),
)
def test_a_split_always_adds_up_and_a_refund_is_its_exact_negative(
    lv: str, selfpay: Decimal, cnt: Decimal, pric: Decimal, cap: Decimal | None
) -> None:
    e = CatalogEntry(DRUG, lv, selfpay if lv == "02" else D(lv == "03"), cap)
    amount = yuan(cnt * pric)
    split = classify(e, cnt, pric, amount)
    assert split.total == amount
    assert classify(e, -cnt, pric, -amount) == -split


def test_categories_total_by_fee_type() -> None:
    lines = [("09", Split(inscp=D("10"))), ("01", Split(inscp=D("50"))), ("09", Split(preselfpay=D("1")))]
    assert categories(lines) == {"01": Split(inscp=D("50")), "09": Split(preselfpay=D("1"), inscp=D("10"))}
