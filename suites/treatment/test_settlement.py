"""Settlement (结算) cases against a treatment-province platform."""

from __future__ import annotations

from yidi.suites.plugin import Sut, case
from yidi.suites.steps import fail, settled, succeed


@case("JT-SET-003")
def test_the_deductible_once_a_year(sut: Sut) -> None:
    _, first = settled(sut, "P01", "H50000000001")  # no stay yet this year, tertiary hospital
    _, again = settled(sut, "P07", "H50000000001")  # paid the deductible already this year
    deductible = first.settlement["setlinfo"]["act_pay_dedc"]  # type: ignore[index]
    if not deductible > 0:
        fail(
            f"【2304】P01本年首次住院应扣起付线（R-BEN-01），实际act_pay_dedc={deductible}",
            expected={"act_pay_dedc": "> 0"},
            actual={"act_pay_dedc": deductible},
        )
    paid = again.settlement["setlinfo"]["act_pay_dedc"]  # type: ignore[index]
    if paid != 0:
        fail(
            f"【2304】P07本年已付满起付线，不应再扣（R-BEN-01），实际act_pay_dedc={paid}",
            expected={"act_pay_dedc": 0},
            actual={"act_pay_dedc": paid},
        )


@case("JT-SET-008")
def test_cancel_and_settle_again_for_the_same_amounts(sut: Sut) -> None:
    his, episode = settled(sut, "P12", "H51010000001")
    before = episode.settlement["setlinfo"]  # type: ignore[index]
    succeed(lambda: his.cancel_settlement(episode))
    succeed(lambda: his.settle(episode))
    after = episode.settlement["setlinfo"]  # type: ignore[index]
    keys = ("medfee_sumamt", "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "psn_part_amt")
    changed = {k: (before[k], after[k]) for k in keys if before[k] != after[k]}
    if changed:
        fail(
            "【2304】撤销后重新结算金额应与原结算一致（年度累计应已回退，R-AMT-12）",
            expected={k: v[0] for k, v in changed.items()},
            actual={k: v[1] for k, v in changed.items()},
        )
    assert after["setl_id"] != before["setl_id"], "重新结算应产生新的结算ID"
