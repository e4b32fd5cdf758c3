"""Fault injection and mutants.

Faults are what a test team switches on to see a system cope: latency, a lost answer, a hub outage,
an insured platform answering -1, duplicate delivery. Mutants are deliberately wrong behaviours of
yidi's own simulators, one per rule the suites guard: every conformance case must catch at least one.
Both are named, listed by ``yidi mutants`` / ``yidi serve --help``, and switched by option or by the
admin endpoint.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    zh: str
    en: str
    rule: str = ""


FAULTS: dict[str, Kind] = {
    "latency": Kind(
        "应答前增加延迟（值为秒，默认0.2）", "add latency before every answer (value: seconds, default 0.2)"
    ),
    "drop-answer": Kind(
        "业务已提交但丢弃应答（HIS超时，应以2601冲正）",
        "drop the answer after the work is committed (the HIS times out and must reverse)",
    ),
    "hub-outage": Kind("国家平台不可用", "the national hub refuses every message"),
    "insured-error": Kind("参保地对业务交易应答-1", "the insured platform answers -1 to business messages"),
    "duplicate-delivery": Kind(
        "平台间每条报文重复投递", "every message between platforms is delivered twice"
    ),
}

MUTANTS: dict[str, Kind] = {
    "ignore-deductible": Kind("不扣起付线", "the insured side ignores the deductible", "R-BEN-01"),
    "skip-filing-check": Kind("不校验异地就医备案", "the insured side does not check filing", "R-FILE-01"),
    "pay-twice-on-retry": Kind(
        "重复报文ID重复结算", "a retried settlement msgid is settled again", "R-IDEM-01"
    ),
    "no-ytd-rollback": Kind(
        "结算撤销不回退年度累计", "2305 forgets to roll back year-to-date usage", "R-AMT-12"
    ),
    "accept-bad-signature": Kind("接受错误签名", "the gateway accepts a wrong signature", "R-SEC-02"),
    "skip-card-sn-check": Kind("不校验卡识别码", "card_sn is not checked against the card", "R-CARD-01"),
}


@dataclass
class Fault:
    name: str
    scope: str | None = (
        None  # a node (treatment:510000, insured:500000, hub), an infno, node/infno; None: all
    )
    value: float | None = None
    times: int | None = None  # how many more times it fires; None: always

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``NAME[:SCOPE][=VALUE][*TIMES]``: ``drop-answer:2304*1``, ``latency:insured:510000/Y2304=3``."""
        times = None
        if "*" in text:
            text, count = text.rsplit("*", 1)
            times = int(count)
        value = None
        if "=" in text:
            text, number = text.split("=", 1)
            value = float(number)
        name, _, scope = text.partition(":")
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        return cls(name, scope or None, value, times)

    def matches(self, node: str, infno: str | None) -> bool:
        """A scope names a node (insured:510000, or just 510000), an infno, or both: insured:510000/Y2304."""
        return self.scope is None or all(
            part in (node, infno) or node.endswith(":" + part) for part in self.scope.split("/")
        )


class Faults:
    """The faults and mutants switched on in one running simulator."""

    def __init__(self, faults: list[Fault] | None = None, mutants: set[str] | None = None) -> None:
        unknown = (mutants or set()) - set(MUTANTS)
        if unknown:
            raise ValueError(f"unknown mutant(s) {sorted(unknown)}; known: {', '.join(MUTANTS)}")
        self.faults = list(faults or [])
        self.mutants = set(mutants or ())
        self._lock = threading.Lock()

    def _find(self, name: str, node: str, infno: str | None) -> Fault | None:
        return next((f for f in self.faults if f.name == name and f.matches(node, infno)), None)

    def take(self, name: str, node: str, infno: str | None = None) -> bool:
        """Whether the fault fires here now (counting down a limited one)."""
        with self._lock:
            fault = self._find(name, node, infno)
            if fault is None:
                return False
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            return True

    def value(self, name: str, node: str, infno: str | None = None, default: float = 0.2) -> float | None:
        fault = self._find(name, node, infno)
        if fault is None:
            return None
        return fault.value if fault.value is not None else default

    def mutant(self, name: str) -> bool:
        return name in self.mutants

    def state(self) -> dict[str, object]:
        return {"faults": [vars(f) for f in self.faults], "mutants": sorted(self.mutants)}
