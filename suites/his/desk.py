"""The his role: the SUT is a hospital HIS, and yidi is the platform it talks to.

A case tells the tester what to do at the HIS (请在HIS为测试人员P30…办理入院登记), waits for the messages
that hospital sends its gateway, and judges them: the order of the transactions, the person and card, the
x-tif signature, the message against the spec, and what must hold between messages (fee totals, a retry
after a lost answer). A message that does not count fails the case when it arrives, naming the message and
the rule, rather than ending in a bare timeout.

With ``--sut-url builtin`` yidi's own reference HIS (actors/his/, made wrong by ``--mutant his-…``)
performs each instruction from a background thread while the case waits and judges exactly as it does
for a real HIS; with ``--sut-url manual`` a person performs them and the instructions are printed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, NoReturn

import orjson
import pytest

from ...actors.his import Episode, His, Hospital, Reply
from ...simulators.app import Simulation
from ...simulators.gateway import Answer
from ...specs import loader, transport
from ...specs.adapt import Adapter
from ...specs.model import Spec
from ...specs.validate import validate
from ..failures import Nonconforming, NothingCame, UnexpectedRefusal
from ..steps import fail

log = logging.getLogger("yidi.suites.his")

ANY_TIME = ("9001", "9002")  # sign-in and sign-out may come whenever the HIS needs them
Check = Callable[["Seen"], None]


@dataclass
class Seen:
    """One message a hospital sent its gateway and what the platform answered (None: no answer left)."""

    headers: dict[str, str]
    message: dict[str, Any] | None  # as sent; None when it was not a JSON object
    path_infno: str | None
    status: int
    answer: dict[str, Any] | None
    at: float  # wall-clock time it arrived (the x-tif timestamp is checked against it)
    input: dict[str, Any] = field(default_factory=dict)  # in the base spec's shapes
    output: Any = None  # in the base spec's shapes

    @property
    def infno(self) -> str:
        return str((self.message or {}).get("infno") or self.path_infno or "")

    @property
    def msgid(self) -> str:
        return str((self.message or {}).get("msgid") or "")

    @property
    def label(self) -> str:
        """How a verdict names it: 【2304】H50000000001202611230900000001."""
        return f"【{self.infno}】{self.msgid}"

    @property
    def lost(self) -> bool:
        return self.answer is None

    @property
    def accepted(self) -> bool:
        return self.answer is not None and str(self.answer.get("infcode")) == "0"

    @property
    def err_msg(self) -> str:
        return str((self.answer or {}).get("err_msg") or "")

    def data(self, node: str = "data") -> dict[str, Any]:
        found = self.input.get(node)
        return found if isinstance(found, dict) else {}


class Watch:
    """Every message one hospital sends to yidi's gateways, in the order they arrive, with their answers."""

    def __init__(self, sim: Simulation, hospital: Hospital, spec: Spec, into: list[Reply]) -> None:
        self.hospital, self.spec, self.into = hospital, spec, into
        self.adapter = Adapter(loader.load(version=spec.version), spec)
        self.arrived: deque[Seen] = deque()
        self.changed = threading.Condition()
        self.stop = sim.observe(self.observe)

    def observe(
        self,
        headers: Mapping[str, str],
        body: bytes | Mapping[str, Any],
        path_infno: str | None,
        answer: Answer,
    ) -> None:
        """On the serving loop: keep what this hospital sent (by institution code or by its paasid)."""
        message = _parse(body)
        paasid = next((v for k, v in headers.items() if k.lower() == "x-tif-paasid"), None)
        if (message or {}).get("fixmedins_code") != self.hospital.fixmedins_code and (
            paasid != self.hospital.paasid
        ):
            return
        seen = Seen(dict(headers), message, path_infno, answer.status, answer.body, time.time())
        tif = transport.tif_headers(self.spec, headers)  # evidence: what the HIS sent, signature and all
        self.into.append(Reply(seen.infno, seen.msgid, message or {}, answer.body or {}, 0.0, headers=tif))
        with self.changed:
            self.arrived.append(seen)
            self.changed.notify_all()

    def next(self, deadline: float, idle: Callable[[], bool], tick: Callable[[], None]) -> Seen | None:
        """The next message; None once ``idle()`` says no more will come, or at the deadline."""
        with self.changed:
            while not self.arrived:
                if idle() or time.monotonic() >= deadline:
                    return None
                self.changed.wait(0.05)
                tick()
            seen = self.arrived.popleft()
        if seen.message is not None and seen.infno in self.spec.transactions:  # read in the base shapes
            raw, output = seen.message.get("input"), (seen.answer or {}).get("output")
            seen.input = self.adapter.to_base(seen.infno, "input", raw) if isinstance(raw, dict) else {}
            if isinstance(output, dict):
                seen.output = self.adapter.to_base(seen.infno, "output", output)
        return seen


class Speaker:
    """Where instructions and progress go: the terminal when a person performs them (or with -v), always
    the log, and, for a robot at the HIS (a vendor's CI), a JSON-lines stream of events (``--tester-events``):
    ``case_start``, ``instruct`` (with the action), ``waiting``, ``passed_over``, ``case_end``."""

    def __init__(self, config: pytest.Config, loud: bool, events: IO[str] | None = None) -> None:
        self.config, self.loud, self.events = config, loud, events

    def event(self, kind: str, **fields: Any) -> None:
        if self.events is not None:
            line = {"event": kind, "at": datetime.now().astimezone().isoformat(timespec="seconds"), **fields}
            self.events.write(json.dumps(line, ensure_ascii=False) + "\n")
            self.events.flush()

    def say(self, text: str) -> None:
        log.info("%s", text)
        if not self.loud:
            return
        capture = self.config.pluginmanager.getplugin("capturemanager")
        terminal = self.config.pluginmanager.getplugin("terminalreporter")
        shown: AbstractContextManager[Any] = (
            capture.global_and_fixture_disabled() if capture is not None else nullcontext()
        )
        with shown:
            if terminal is not None:
                terminal.write_line(text)
            else:  # yidi certify runs pytest without its terminal
                print(text, file=sys.stderr, flush=True)


class Clerk:
    """yidi's reference HIS at the hospital's desk (builtin): performs each instruction from a thread, as
    the cashier would, while the case waits and judges what arrives."""

    def __init__(
        self,
        spec: Spec,
        hospital: Hospital,
        card: Mapping[str, Any],
        items: list[tuple[str, float, float]],
        mutants: Collection[str],
    ) -> None:
        self.his = His(spec, hospital, mutants=mutants)
        self.card, self.items = card, items
        self.episode: Episode | None = None
        self.thread: threading.Thread | None = None
        self.error: Exception | None = None

    def perform(self, action: Callable[[Clerk], object]) -> None:
        self.wait()

        def run() -> None:
            try:
                action(self)
            except Exception as e:  # a refusal or a lost answer: the HIS shows it and stops, as a real one
                self.error = e

        self.error = None
        self.thread = threading.Thread(target=run, name="yidi-reference-his", daemon=True)
        self.thread.start()

    def done(self) -> bool:
        return self.thread is None or not self.thread.is_alive()

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join(timeout=60)

    # ── what the instructions ask ───────────────────────────────────

    def admit(self, batch: int) -> None:
        """读卡【1101】 → 入院【2401】 → 费用【2301】 in batches of ``batch`` lines (none when batch is 0)."""
        self.episode = self.his.stay(self.card, self.items if batch else [], batch=batch or 1)

    def discharge_and_settle(self) -> None:
        """出院【2402】 → 预结算【2303】 → 结算【2304】 (when its answer is lost: 2601, and settle again)."""
        assert self.episode is not None
        self.his.discharge(self.episode)
        self.his.presettle(self.episode)
        self.his.settle(self.episode)

    def cancel_settlement(self) -> None:
        assert self.episode is not None
        self.his.cancel_settlement(self.episode)


class Desk:
    """One case at the platform's desk: the tester's instructions, the hospital's messages, the verdicts."""

    def __init__(
        self,
        sim: Simulation,
        spec: Spec,
        hospital: Hospital,
        person: Mapping[str, Any],
        items: list[tuple[str, float, float]],
        tester: Speaker,
        into: list[Reply],
        *,
        clerk: Clerk | None,
        timeout: float,
    ) -> None:
        self.sim, self.spec, self.hospital, self.person, self.items = sim, spec, hospital, person, items
        self.tester, self.clerk, self.timeout = tester, clerk, timeout
        self.watch = Watch(sim, hospital, spec, into)
        self.received: list[Seen] = []  # every message of the case, judged, in order

    @property
    def who(self) -> str:
        """The test person as the tester finds them: key, name, card number."""
        p = self.person
        return f"测试人员{p['key']}（{p['name']}，社保卡号{p['card']['cardno']}）"

    def close(self) -> None:
        if self.clerk is not None:
            self.clerk.wait()
            self.clerk.his.client.close()
        self.watch.stop()

    # ── instructing and waiting ─────────────────────────────────────

    def instruct(self, text: str, robot: Callable[[Clerk], object], **action: Any) -> None:
        """Tell the tester what to do at the HIS (``text``; ``action``, the same for a robot: ``do`` and its
        parameters); builtin, the reference HIS does it."""
        self.tester.say(f"〔{self.hospital.name} {self.hospital.fixmedins_code}〕{text}")
        who = {"person": self.person["key"], "cardno": self.person["card"]["cardno"]}
        self.tester.event("instruct", hospital=self.hospital.fixmedins_code, text=text, action=who | action)
        if self.clerk is not None:
            self.clerk.perform(robot)

    def next(self, *awaiting: str) -> Seen | None:
        """The next message that counts for the flow: one of ``awaiting`` (else the order is wrong), judged
        as it arrives (signature, card, spec, institution). Sign-in and queries the flow is not waiting for
        are judged and passed over. None: no more will come (the reference HIS has finished, or the time
        is up)."""
        started = time.monotonic()
        shown = [started]
        wanted = "或".join(f"【{i}】{self.name(i)}" for i in awaiting)

        def tick() -> None:
            if time.monotonic() - shown[0] >= 30:
                shown[0] = time.monotonic()
                self.tester.say(f"  等待HIS发送{wanted}……已等待{int(shown[0] - started)}秒")
                self.tester.event("waiting", awaiting=list(awaiting), seconds=int(shown[0] - started))

        idle = self.clerk.done if self.clerk is not None else (lambda: False)
        while True:
            seen = self.watch.next(started + self.timeout, idle, tick)
            if seen is None:
                return None
            if self.elsewhere(seen):  # a message for a patient of another (an ended) case
                self.tester.event("passed_over", infno=seen.infno, msgid=seen.msgid, why="another person")
                continue
            self.received.append(seen)
            query = seen.infno in self.spec.transactions and self.spec.transaction(seen.infno).query
            if seen.infno not in awaiting and not (seen.infno in ANY_TIME or query):
                self.out_of_order(seen, wanted)
            self.judge(seen)
            if seen.infno in awaiting:
                return seen

    def expect(self, *infnos: str, check: Check | None = None) -> list[Seen]:
        """These transactions in this order; ``check`` judges each before the platform's answer counts."""
        got = []
        for infno in infnos:
            seen = self.next(infno) or self.nothing_came(f"【{infno}】{self.name(infno)}")
            if check is not None:
                check(seen)
            self.accepted(seen)
            got.append(seen)
        return got

    def out_of_order(self, seen: Seen, wanted: str) -> NoReturn:
        fail(
            f"交易顺序不符：此时应发送{wanted}，实际收到【{seen.infno}】{self.name(seen.infno)}",
            rule="R-LIFE-01",
            on=seen,
            expected=wanted,
            actual={"infno": seen.infno, "msgid": seen.msgid},
        )

    def nothing_came(self, wanted: str, why: str = "", *, rule: str | None = None) -> NoReturn:
        """Fail: what the flow waits for did not come; say what did, and what the reference HIS reported."""
        came = "、".join(s.label for s in self.received) or "无"
        if self.clerk is None:
            ended = f"等待{int(self.timeout)}秒超时"
        else:
            ended = "参考HIS已结束操作" + (f"，HIS提示：{self.clerk.error}" if self.clerk.error else "")
        raise NothingCame(
            f"未收到HIS发送的{wanted}{why}（{ended}）；本用例已收到：{came}",
            rule=rule,
            expected=wanted,
            actual=[s.label for s in self.received],
        )

    def elsewhere(self, seen: Seen) -> bool:
        """Whether a message is about another person than this case's: it names another psn_no, or reads
        another person's credential (1101). Such a message belongs to a case that has ended (a real HIS may
        still be sending for that patient) and is not judged against this one."""
        mine = {str(self.person.get(k)) for k in ("psn_no", "certno", "ectoken")} | {
            str((self.person.get("card") or {}).get("cardno"))
        }
        named = {str(v) for v in _values(seen.input, ("psn_no", "mdtrt_cert_no")) if v not in (None, "")}
        return bool(named) and not named & mine

    def name(self, infno: str) -> str:
        return self.spec.transaction(infno).zh if infno in self.spec.transactions else "（非接口交易）"

    # ── judging ─────────────────────────────────────────────────────

    def judge(self, seen: Seen) -> None:
        """What every message must be, whatever the flow: JSON, signed, a card read with its card_sn,
        valid against the spec, from this institution."""
        if seen.message is None:
            raise Nonconforming(
                "报文不是JSON对象（E1007）",
                rule="R-ENV-01",
                infno=seen.infno or "?",
                expected="JSON对象",
                actual=None,
            )
        self.signed(seen)
        data = seen.data()
        if data.get("mdtrt_cert_type") == "03" and not data.get("card_sn") and self.has(seen, "card_sn"):
            fail(
                "以社保卡就医（mdtrt_cert_type=03）应传卡识别码card_sn，实际未传",
                rule="R-CARD-01",
                on=seen,
                expected={"card_sn": self.person["card"]["card_sn"]},
                actual={"card_sn": data.get("card_sn")},
            )
        report = validate(self.spec, seen.message, strict=True)
        # a certification holds a HIS to the rules platforms tolerate breaking (W1004: the msgid's form)
        broken = report.errors + [i for i in report.warnings if i.code == "W1004"]
        if broken:
            first = broken[0]
            more = f"（另有{len(broken) - 1}处错误）" if len(broken) > 1 else ""
            raise Nonconforming(
                f"不符合接口规范（{first.code}）：{first.zh}{more}",
                rule=first.rule if first.rule.startswith("R-") else None,
                on=seen,
                expected="符合接口规范",
                actual=[str(i) for i in broken],
            )
        code = seen.message.get("fixmedins_code")
        if code != self.hospital.fixmedins_code:
            fail(
                f"机构编号应为本院{self.hospital.fixmedins_code}，实际{code}",
                rule="R-SEC-03",
                on=seen,
                expected={"fixmedins_code": self.hospital.fixmedins_code},
                actual={"fixmedins_code": code},
            )

    def signed(self, seen: Seen) -> None:
        """x-tif headers signed with this hospital's secret (the nonce replay is the gateway's to refuse)."""
        refusal = transport.verify(
            self.spec,
            seen.headers,
            secret_for=lambda p: self.hospital.secret if p == self.hospital.paasid else None,
            now=seen.at,
            nonce_seen=lambda paasid, nonce: False,
        )
        if refusal is not None:
            err = self.spec.errors[refusal[0]]
            raise Nonconforming(
                f"签名校验不通过（{err.code}）：{err.render(**refusal[1])[0]}",
                rule=err.rule if err.rule.startswith("R-") else None,
                on=seen,
                expected={"x-tif-signature": "SHA-256(时间戳+密钥+随机数+时间戳)，小写十六进制"},
                actual={k: v for k, v in seen.headers.items() if k.lower().startswith("x-tif-")},
            )

    def has(self, seen: Seen, name: str, node: str = "data") -> bool:
        nodes = self.spec.transaction(seen.infno).input if seen.infno in self.spec.transactions else {}
        return node in nodes and name in nodes[node].fields

    def accepted(self, seen: Seen) -> None:
        """The platform answered it with success; a refusal is quoted with the rule its code belongs to."""
        if seen.lost:
            raise UnexpectedRefusal(
                f"平台未应答（HTTP {seen.status}）", rule=None, on=seen, expected={"infcode": 0}, actual=None
            )
        if not seen.accepted:
            code = re.match(r"\[(E\d{4})\]", seen.err_msg)
            rule = self.spec.errors[code[1]].rule if code and code[1] in self.spec.errors else ""
            raise UnexpectedRefusal(
                f"未被平台受理：{seen.err_msg}",
                rule=rule if rule.startswith("R-") else None,  # E1010 names its rule in the text
                on=seen,
                expected={"infcode": 0},
                actual={"infcode": (seen.answer or {}).get("infcode"), "err_msg": seen.err_msg},
            )

    def same(self, seen: Seen, what: str, rule: str, expected: Mapping[str, Any], node: str = "data") -> None:
        """The message's ``node`` carries these values (the visit, the person, the card)."""
        data = seen.data(node)
        actual = {k: data.get(k) for k in expected}
        wrong = [k for k in expected if str(actual[k]) != str(expected[k])]
        if wrong:
            fail(
                f"{what}不符：" + "，".join(f"{k}应为{expected[k]}，实际{actual[k]}" for k in wrong),
                rule=rule,
                on=seen,
                expected=dict(expected),
                actual=actual,
            )

    def answer_dropped(self, infno: str) -> str:
        """The fault (for ``steps.fault``) by which the platform commits the hospital's next ``infno`` and
        drops its answer, so that the HIS times out."""
        province = self.hospital.gateway.rstrip("/").rsplit("/", 1)[-1]
        return f"drop-answer:treatment:{province}/{infno}*1"


def timeout(manual: bool, given: float | None = None) -> float:
    """Seconds to wait for each message (``--his-wait``, else ``YIDI_HIS_TIMEOUT``): a person needs minutes,
    the reference HIS a moment."""
    return float(given or os.environ.get("YIDI_HIS_TIMEOUT") or (600 if manual else 30))


def _values(node: Any, keys: tuple[str, ...]) -> list[Any]:
    """Every value of these keys anywhere in a message's input (its nodes, lists of rows)."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k in keys] + [
            x for v in node.values() for x in _values(v, keys)
        ]
    if isinstance(node, list):
        return [x for v in node for x in _values(v, keys)]
    return []


def _parse(body: bytes | Mapping[str, Any]) -> dict[str, Any] | None:
    if isinstance(body, Mapping):
        return dict(body)
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return message if isinstance(message, dict) else None
