"""Why a case failed, as data: the rule broken, the message concerned, what happened, what was expected and
what came instead.

One small class per way a joint test fails (the Schemathesis way), each a ``pytest.fail.Exception`` so
that pytest reports it as a failure without a traceback. The parts stay fields: the listener of
``yidi certify`` writes them into the certification document, and the one line the console prints and the
report shows is composed from them here, and nowhere else::

    【2303】H50000000001202611232054550006 应拒绝（E3002），实际成功 · R-FILE-01 跨省直接结算须已办理…

The text is Chinese: the test teams who read it are.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar, NoReturn, Protocol

import pytest

from ..specs import loader


class Message(Protocol):
    """What names a message in a verdict (a HIS's Reply, a platform's, a message the desk saw)."""

    @property
    def infno(self) -> str: ...

    @property
    def msgid(self) -> str: ...


@cache
def wording(rule: str) -> str:
    """The rule's Chinese wording in rules.yaml, or "" for a rule yidi does not know. Rules are the same in
    every version and profile, so the base spec's are the ones (loaded once)."""
    found = loader.load().rules.get(rule)
    return found.zh if found is not None else ""


class Failure(pytest.fail.Exception):  # type: ignore[name-defined,misc]
    """A case failed: the system under test did not do what a rule of the interface says."""

    code: ClassVar[str] = "failure"
    title: ClassVar[str] = "不符合要求"

    def __init__(
        self,
        message: str,
        *,
        rule: str | None,
        on: Message | None = None,
        infno: str | None = None,
        msgid: str | None = None,
        expected: Any = None,
        actual: Any = None,
    ) -> None:
        self.message, self.rule, self.on = message, rule, on
        self.infno = (infno or on.infno if on is not None else infno) or None  # "" names nothing either
        self.msgid = (msgid or on.msgid if on is not None else msgid) or None
        self.expected, self.actual = expected, actual
        super().__init__(self.text(), pytrace=False)
        self.__suppress_context__ = True  # the verdict is what the SUT answered, not the refusal it came from

    @property
    def rule_zh(self) -> str:
        return wording(self.rule) if self.rule else ""

    def text(self) -> str:
        """The one line a person reads: 【infno】msgid, what happened, then the rule and its wording."""
        where = (f"【{self.infno}】" if self.infno else "") + (f"{self.msgid} " if self.msgid else "")
        rule = f" · {self.rule}" + (f" {self.rule_zh}" if self.rule_zh else "") if self.rule else ""
        return where + self.message + rule

    def as_dict(self) -> dict[str, Any]:
        """The fields a certification document keeps (expected and actual sit beside them in the case)."""
        return {
            "kind": self.code,
            "title": self.title,
            "rule": self.rule,
            "rule_zh": self.rule_zh or None,
            "infno": self.infno,
            "msgid": self.msgid,
            "message": self.message,
        }


class Mismatch(Failure):
    """The system answered, but not with what the rule says."""

    code, title = "mismatch", "结果与规则不符"


class NotRefused(Failure):
    """A message the rule says must be refused was accepted."""

    code, title = "not_refused", "应拒绝而受理"


class WrongRefusal(Failure):
    """A message was refused, but not with the error code the rule gives."""

    code, title = "wrong_refusal", "拒绝的错误码不符"


class UnexpectedRefusal(Failure):
    """A message the flow needs, and the rules allow, was refused (or not answered)."""

    code, title = "unexpected_refusal", "应受理而拒绝"


class Nonconforming(Failure):
    """A message does not meet the interface spec (fields, lengths, codes, formats, signature)."""

    code, title = "nonconforming", "不符合接口规范"


class Unbalanced(Failure):
    """The amounts of a settlement answer do not add up (R-AMT-01…04)."""

    code, title = "unbalanced", "金额不平"


class NothingCame(Failure):
    """What the flow waits for from the system under test did not come (the his role's desk)."""

    code, title = "nothing_came", "未收到应发送的报文"


def fail(
    message: str,
    *,
    rule: str | None,
    on: Message | None = None,
    infno: str | None = None,
    msgid: str | None = None,
    expected: Any = None,
    actual: Any = None,
) -> NoReturn:
    """Fail the case with a :class:`Mismatch`: ``message`` says what happened, in the test team's words,
    without the message's name (``on``, or ``infno`` and ``msgid``) or the rule, which are fields."""
    raise Mismatch(message, rule=rule, on=on, infno=infno, msgid=msgid, expected=expected, actual=actual)
