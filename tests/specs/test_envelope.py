from __future__ import annotations

import re
from datetime import datetime

import pytest

from yidi.specs import envelope, examples
from yidi.specs.model import Spec
from yidi.specs.validate import validate

WHEN = datetime(2026, 11, 10, 10, 30, 0, 250_000)


def test_msgids_have_the_documented_shape_and_do_not_repeat_within_a_second() -> None:
    ids = envelope.MsgIds("H51010000001")
    made = [ids(WHEN) for _ in range(9999)]
    assert len(set(made)) == 9999
    assert all(re.fullmatch(r"H51010000001" r"20261110103000" r"[0-9]{4}", m) for m in made)
    with pytest.raises(ValueError):
        envelope.MsgIds("H5101")


def test_two_senders_of_one_institution_take_disjoint_ranges() -> None:
    first, second = envelope.MsgIds("H51010000001"), envelope.MsgIds("H51010000001", start=5001)
    assert not {first(WHEN) for _ in range(5000)} & {second(WHEN) for _ in range(4999)}


def test_ranges_stay_disjoint_however_long_the_run() -> None:
    # three workers of one hospital, each far past its share of the four digits, all in one second
    workers = [envelope.MsgIds("H51010000001", start=1 + i * 3333, width=3333) for i in range(3)]
    made = [[ids(WHEN) for _ in range(20_000)] for ids in workers]
    assert all(len(set(m)) == 3333 for m in made)  # each cycles within its own range
    assert len(set().union(*made)) == 3 * 3333  # and no two share one
    with pytest.raises(ValueError):
        envelope.MsgIds("H51010000001", start=1, width=0)


def test_refmsgids_have_the_documented_shape() -> None:
    ids = envelope.RefMsgIds("510100")
    assert ids(WHEN) == "510100202611101030000000000001"
    assert ids(WHEN) == "510100202611101030000000000002"


def test_a_built_request_is_valid_for_every_transaction(spec: Spec) -> None:
    ids = envelope.MsgIds("H51010000001")
    for infno in spec.transactions:
        message = envelope.request(
            spec,
            infno,
            examples.body(spec, infno, "input"),
            msgid=ids(WHEN),
            when=WHEN,
            mdtrtarea_admvs="510100",
            insuplc_admdvs="500000",
            recer_sys_code="YBXT",
            infver="V1.0",
            opter_type="1",
            opter="0001",
            opter_name="收费员甲",
            fixmedins_code="H51010000001",
            fixmedins_name="成都市第一人民医院",
        )
        assert list(message) == [*spec.request, "input"]
        assert validate(spec, message).issues == [], infno


def test_a_request_refuses_fields_outside_the_envelope(spec: Spec) -> None:
    with pytest.raises(TypeError, match="psn_no"):
        envelope.request(spec, "2304", {}, msgid="x", when=WHEN, psn_no="1")


def test_built_responses_are_valid_on_success_and_on_failure(spec: Spec) -> None:
    refs = envelope.RefMsgIds("510100")
    ok = envelope.response(
        spec,
        infcode=0,
        refmsgid=refs(WHEN),
        received=WHEN,
        responded=WHEN,
        output=examples.body(spec, "2304", "output"),
    )
    assert ok["refmsg_time"] == "20261110103000250"
    assert validate(spec, ok, infno="2304", response=True).issues == []
    failed = envelope.response(
        spec,
        infcode=-2,
        refmsgid=refs(WHEN),
        received=WHEN,
        responded=WHEN,
        output={"ignored": True},
        err_msg="[E4001]就诊ID不存在",
    )
    assert failed["output"] is None
    assert validate(spec, failed, infno="2304", response=True).issues == []


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 11, 23, 9, 5, 7),
        datetime(2027, 1, 1, 0, 0, 0, 999999),
        datetime(2026, 12, 31, 23, 59, 59),
    ],
)
def test_stamps_are_what_strftime_would_give(when: datetime) -> None:
    assert envelope.stamp(when) == when.strftime("%Y%m%d%H%M%S")
    assert envelope.datetime_text(when) == when.strftime("%Y-%m-%d %H:%M:%S")
