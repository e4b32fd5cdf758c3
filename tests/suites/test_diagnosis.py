"""A refusal that stops a case names its real cause (suites/diagnosis.py): an escaped refusal is a failure,
not an error, and a routing mistake is reported as routing, not as an unknown person or card."""

from __future__ import annotations

from typing import Any

from yidi.actors.his import Refused, Reply
from yidi.suites.diagnosis import Misrouted, reason
from yidi.suites.failures import UnexpectedRefusal
from yidi.world import topology

WORLD = topology.load()
P01 = WORLD.person("P01")  # insured in Chengdu (510100)
assert P01 is not None
MSGID = "H50000000001202611232054550006"


def refusal(insuplc: str, err: str, **data: Any) -> Reply:
    request = {"infno": "2401", "msgid": MSGID, "insuplc_admdvs": insuplc, "input": {"mdtrtinfo": data}}
    return Reply("2401", MSGID, request, {"infcode": -2, "err_msg": err}, 0.01)


def stopped_by(reply: Reply) -> BaseException:
    return reason(Refused(reply), WORLD)


def test_an_escaped_refusal_is_an_unexpected_refusal_not_an_error() -> None:
    e = stopped_by(refusal("510100", "[E4004]已有在院登记", psn_no=P01.psn_no))
    assert type(e) is UnexpectedRefusal and e.rule is None
    assert e.message == "应成功，实际应答 infcode=-2 [E4004]已有在院登记"


def test_a_wrong_insuplc_admdvs_is_routing_whatever_the_answer() -> None:
    e = stopped_by(refusal("330100", "[E3002]未办理异地就医备案", psn_no=P01.psn_no))
    assert isinstance(e, Misrouted) and e.rule == "R-ROUTE-01" and e.code == "misrouted"
    assert "insuplc_admdvs为330100" in e.message and "参保地为510100" in e.message
    assert e.expected == {"路由至参保地": "510100"}


def test_a_person_of_the_world_called_unknown_is_routing() -> None:
    by_card = refusal("510100", "[E3001]人员不存在或凭证无效", mdtrt_cert_no=P01.card.cardno)
    e = stopped_by(by_card)
    assert isinstance(e, Misrouted) and "人员P01参保于510100" in e.message
    unaddressed = refusal("", "[E3001]人员不存在或凭证无效", mdtrt_cert_no=P01.certno)  # Y1101: by credential
    assert isinstance(stopped_by(unaddressed), Misrouted)


def test_an_unknown_person_or_another_refusal_stays_what_it_is() -> None:
    stranger = stopped_by(refusal("510100", "[E3001]人员不存在或凭证无效", psn_no="99999999"))
    assert type(stranger) is UnexpectedRefusal
    lost_card = stopped_by(refusal("510100", "[E3005]社会保障卡已挂失", psn_no=P01.psn_no))
    assert type(lost_card) is UnexpectedRefusal
    already = UnexpectedRefusal("x", rule="R-LIFE-01", on=refusal("510100", "[E4002]状态不符"))
    assert reason(already, WORLD) is already
    assert reason(already, None) is already
    other = ValueError("a bug of ours")
    assert reason(other, WORLD) is other
