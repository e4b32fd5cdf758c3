"""A failed case as data (suites/failures.py): the rule is a field, the message says what happened, and the
one line a person reads is composed from them, naming the rule in the words of rules.yaml."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from yidi.actors.his import Refused, Reply
from yidi.specs import loader
from yidi.suites import failures
from yidi.suites.failures import Failure, Mismatch, NotRefused, UnexpectedRefusal, WrongRefusal, fail
from yidi.suites.steps import refused, succeed

SUITES = Path(failures.__file__).parent
MSGID = "H50000000001202611232054550006"
RULE_ID = re.compile(r"R-[A-Z]+-\d+")


def reply(infno: str, body: dict[str, Any]) -> Reply:
    return Reply(infno, MSGID, {"infno": infno, "msgid": MSGID}, body, 0.01)


def test_the_rule_is_a_field_and_the_line_names_its_wording() -> None:
    wording = loader.load().rules["R-FILE-01"].zh
    e = NotRefused("应拒绝（E3002），实际成功", rule="R-FILE-01", infno="2303", msgid=MSGID)
    assert (e.rule, e.infno, e.msgid, e.message) == ("R-FILE-01", "2303", MSGID, "应拒绝（E3002），实际成功")
    assert e.rule_zh == wording
    assert e.text() == f"【2303】{MSGID} 应拒绝（E3002），实际成功 · R-FILE-01 {wording}"
    assert e.msg == e.text()  # what pytest prints
    assert e.as_dict() == {
        "kind": "not_refused",
        "title": "应拒绝而受理",
        "rule": "R-FILE-01",
        "rule_zh": wording,
        "infno": "2303",
        "msgid": MSGID,
        "message": "应拒绝（E3002），实际成功",
    }


def test_a_failure_without_rule_or_message_is_its_text_alone() -> None:
    e = Mismatch("本用例应收到交易['1101']的应答", rule=None)
    assert e.text() == "本用例应收到交易['1101']的应答" and e.as_dict()["rule_zh"] is None
    assert (
        Mismatch("应扣起付线", rule="R-BEN-01", infno="2304")
        .text()
        .startswith("【2304】应扣起付线 · R-BEN-01 ")
    )
    unknown = Mismatch("x", rule="R-NOPE-01")  # a rule of another spec: the bare ID
    assert unknown.text() == "x · R-NOPE-01" and unknown.rule_zh == ""


def test_fail_takes_the_message_from_an_answer() -> None:
    answer = reply("2304", {"infcode": 0})
    with pytest.raises(Mismatch) as caught:
        fail("两次结算应为不同的结算ID", rule="R-LIFE-01", on=answer, expected="不同", actual="S1")
    e = caught.value
    assert isinstance(e, Failure) and isinstance(e, pytest.fail.Exception)  # pytest: failed, not an error
    assert (e.infno, e.msgid, e.expected, e.actual) == ("2304", MSGID, "不同", "S1")


def test_the_steps_raise_failures_whose_rule_is_not_in_their_message() -> None:
    accepted = reply("2303", {"infcode": 0})
    with pytest.raises(NotRefused) as caught:
        refused(lambda: accepted, "E3002", "R-FILE-01")
    assert caught.value.rule == "R-FILE-01" and caught.value.message == "应拒绝（E3002），实际成功"
    other = reply("2303", {"infcode": -2, "err_msg": "[E5001]金额不平"})
    with pytest.raises(WrongRefusal) as wrong:
        refused(lambda: other, "E3002", "R-FILE-01")
    assert wrong.value.rule == "R-FILE-01" and "R-FILE-01" not in wrong.value.message
    assert wrong.value.actual == {"infcode": -2, "err_msg": "[E5001]金额不平"}

    def refusing() -> Reply:
        raise Refused(other)

    with pytest.raises(UnexpectedRefusal) as unexpected:
        succeed(refusing)
    assert unexpected.value.rule is None and unexpected.value.infno == "2303"
    assert unexpected.value.__suppress_context__  # the verdict is the SUT's answer, not our Refused


FAILING = {
    "fail",
    *(name for name, v in vars(failures).items() if isinstance(v, type) and issubclass(v, Failure)),
}


def failure_calls() -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(SUITES.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FAILING:
                found.append((f"{path.relative_to(SUITES)}:{node.lineno}", node))
    return found


def test_every_failure_in_the_suites_gives_its_rule_as_a_field_not_as_text() -> None:
    calls = failure_calls()
    assert len(calls) > 90  # the suites' failures are found
    problems = []
    for where, call in calls:
        if "rule" not in {k.arg for k in call.keywords}:
            problems.append(f"{where}: no rule= (None where no rule applies)")
        parts = list(ast.walk(call.args[0])) if call.args else []
        texts = [n.value for n in parts if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        if any(RULE_ID.search(t) or t.startswith("【") for t in texts):
            problems.append(f"{where}: a rule ID or 【infno】 in the message text")
        if any(
            isinstance(n, ast.FormattedValue) and "rule" in ast.unparse(n.value).split(".")[-1] for n in parts
        ):
            problems.append(f"{where}: a rule in the message text")
    assert problems == []
