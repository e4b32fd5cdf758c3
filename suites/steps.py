"""Steps the cases share, in the words of a joint test: read the card, admit, upload, discharge, settle.

A refusal that was expected is checked by its error code; one that was not fails the case naming the
message and what the SUT answered, so a verdict always says why. ``fail`` (failures.py) carries the rule,
the message concerned, what was expected and what came, which the report shows side by side.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

import httpx
import pytest

from ..actors.his import Episode, His, Refused, Reply, credential
from ..specs import loader, money, rules
from ..specs.money import ZERO
from ..specs.validate import validate
from ..world.topology import CatalogEntry, Topology
from .failures import Nonconforming, NotRefused, Unbalanced, UnexpectedRefusal, WrongRefusal
from .failures import fail as fail  # the cases take it with the steps
from .plugin import Sut


def refused_success(reply: Reply, message: str, rule: str | None = None) -> UnexpectedRefusal:
    """The failure of a step that should have succeeded and was refused: what the SUT answered."""
    actual = {"infcode": reply.infcode, "err_msg": reply.err_msg}
    return UnexpectedRefusal(message, rule=rule, on=reply, expected={"infcode": 0}, actual=actual)


def unexpected_refusal(e: Refused) -> NoReturn:
    r = e.reply
    raise refused_success(r, f"应成功，实际应答 infcode={r.infcode} {r.err_msg}")


def answered(reply: Reply, why: str, rule: str | None = None) -> Reply:
    """``reply`` must be a success: otherwise the case fails on a refusal it should not have met, saying what
    should have succeeded (``why``) and what the SUT answered."""
    if not reply.ok:
        raise refused_success(reply, f"{why}，实际{reply.err_msg}", rule)
    return reply


def episode_to_discharge(
    sut: Sut, person: str, hospital: str, *, cert_type: str = "03"
) -> tuple[His, Episode]:
    """1101 → 2401 → 2301 → 2402, every step expected to succeed."""
    his, card = sut.his(hospital), sut.card(person)
    try:
        info = his.person_info(card, cert_type)
        episode = Episode(info.output, str(info.output["insuinfo"][0]["insuplc_admdvs"]), replies=[info])
        his.admit(episode, cert=credential(card, cert_type), card_sn=card.get("card_sn"))
        his.upload_fees(episode, sut.items(hospital))
        his.discharge(episode)
    except Refused as e:
        unexpected_refusal(e)
    return his, episode


def settled(sut: Sut, person: str, hospital: str) -> tuple[His, Episode]:
    his, episode = episode_to_discharge(sut, person, hospital)
    succeed(lambda: his.presettle(episode))
    succeed(lambda: his.settle(episode))
    return his, episode


def succeed(step: Callable[[], Reply]) -> Reply:
    try:
        return step()
    except Refused as e:
        unexpected_refusal(e)


def refused(step: Callable[[], Any], code: str, rule: str) -> Reply:
    """The step must be refused with ``code`` (rule ``rule``; ``E6005|E4002``: either)."""
    try:
        reply = step()
    except Refused as e:
        reply = e.reply
    codes = code.split("|")
    expected = {"infcode": "-1 或 -2", "err_msg": " 或 ".join(f"[{c}]…" for c in codes)}
    if not isinstance(reply, Reply):
        raise NotRefused(f"应拒绝（{code}），实际成功", rule=rule, expected=expected, actual=reply)
    actual = {"infcode": reply.infcode, "err_msg": reply.err_msg}
    if reply.ok:
        raise NotRefused(f"应拒绝（{code}），实际成功", rule=rule, on=reply, expected=expected, actual=actual)
    if not any(reply.err_msg.startswith(f"[{c}]") for c in codes):
        raise WrongRefusal(
            f"应拒绝（{code}），实际应答 {reply.err_msg}",
            rule=rule,
            on=reply,
            expected=expected,
            actual=actual,
        )
    return reply


# ── admission and fees (shared by the admission, fees and other flows) ──


def read_card(his: His, card: Mapping[str, Any], cert_type: str = "03") -> Episode:
    """【1101】 with what the card reader gave; the episode starts from the person the SUT returned."""
    info = succeed(lambda: his.person_info(card, cert_type))
    return Episode(info.output, str(info.output["insuinfo"][0]["insuplc_admdvs"]), replies=[info])


def admit(his: His, episode: Episode, card: Mapping[str, Any], cert_type: str = "03") -> Reply:
    """【2401】 with the credential 1101 was read with (card visits carry card_sn)."""
    return his.admit(episode, cert=credential(card, cert_type), card_sn=card.get("card_sn"))


def admitted(sut: Sut, person: str, hospital: str, *, cert_type: str = "03") -> tuple[His, Episode]:
    """1101 → 2401, both expected to succeed."""
    his, card = sut.his(hospital), sut.card(person)
    episode = read_card(his, card, cert_type)
    succeed(lambda: admit(his, episode, card, cert_type))
    return his, episode


def close_stay(his: His, episode: Episode) -> None:
    """Undo what an unsettled stay holds (2405 discharge, 2302 every fee line, 2404 admission), so that the
    person can be admitted again by a later case; a step the visit's state does not allow is skipped."""
    for infno, extra in (("2405", {}), ("2302", {"feedetl_sn": "0000"}), ("2404", {})):
        with suppress(Refused):
            his.simple(episode, infno, **extra)


def catalog(t: Topology, hospital: str) -> Mapping[str, CatalogEntry]:
    """The treatment province's catalog (就医地目录) the hospital bills against, by national code."""
    found = t.hospital(hospital)
    province = t.province_of(found.admdvs) if found else None
    if province is None:
        raise KeyError(f"no hospital {hospital} in the world")
    return province.catalog


def warned_not_filed(reply: Reply) -> bool:
    """Whether an admission answer (2401) warns that the person is not filed for this place."""
    return "备案" in reply.warn_msg


# ── conformance (every answer the SUT sends must meet the spec it speaks) ──


def conforms(sut: Sut, reply: Reply) -> None:
    """The answer validates against the spec the SUT speaks (``sut.spec``, its profile included): fields
    present, lengths, code tables, datetimes ``yyyy-MM-dd HH:mm:ss``, decimals, and the money rules
    (R-AMT-…). A failure names the message, each broken field with its rule, what the spec wants and
    what came."""
    body = reply.received or reply.body  # as the SUT sent it
    sent_under = str(reply.request.get("infver") or "") or None  # the version it answers (R-ENV-07)
    report = validate(sut.spec, body, infno=reply.infno, response=True, sent_under=sent_under)
    if report.valid:
        return
    first, more = report.errors[0], len(report.errors) - 1
    raise Nonconforming(
        f"应答不符合接口规范：{first.zh}" + (f"（另有{more}处）" if more else ""),
        rule=first.rule or None,
        on=reply,
        expected={i.path or "应答": f"{i.expected or '符合规范'}（{i.rule}）" for i in report.errors},
        actual={i.path or "应答": _value_at(body, i.path) for i in report.errors},
    )


def _value_at(body: Any, path: str) -> Any:
    """The value at a validation path (``output.result[0].lmt_used_flag``), or "（缺失）"."""
    node = body
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return "（缺失）"
    return node


# ── settlement and queries (shared by the settlement, queries and other flows) ──

T = TypeVar("T")


def accepted(step: Callable[[], T], rule: str, why: str) -> T:
    """The step must succeed; a refusal fails the case naming what the step is for (``why``) and the rule
    that says it must be allowed."""
    try:
        return step()
    except Refused as e:
        r = e.reply
        raise UnexpectedRefusal(
            f"{why}，实际应答 infcode={r.infcode} {r.err_msg}",
            rule=rule,
            on=r,
            expected={"infcode": 0},
            actual={"infcode": r.infcode, "err_msg": r.err_msg},
        ) from None


def balanced(his: His, reply: Reply, *, cross_province: bool) -> None:
    """Every money invariant of the spec (R-AMT-01…04: medfee = the four ranges = fund + personal,
    fund = the sum of the funds, personal = account + cash) holds on this answer, as ``specs.rules``
    evaluates them. The HIS reads answers in the base spec's shapes and meanings (a profile's, such as
    Zhuhai's fund total including the account, is undone on receipt), so the base semantics apply."""
    broken = rules.check_message(
        his.spec,
        reply.infno,
        reply.body,
        response=True,
        context={**his.spec.semantics, "cross_province": cross_province},
    )
    if broken:
        first, *more = broken
        raise Unbalanced(
            f"金额不平：{first.detail}" + "".join(f"；另不成立：{v.rule.zh}（{v.detail}）" for v in more),
            rule=first.rule.id,
            on=reply,
            expected={v.rule.id: v.rule.zh for v in broken},
            actual={v.rule.id: v.detail for v in broken},
        )


def query_settlement(his: His, episode: Episode, setl_id: str) -> Reply:
    """【5203】 the settlement ``setl_id`` of the episode's visit (refusals raise Refused)."""
    data = his.node("5203", "data", psn_no=episode.psn_no, setl_id=setl_id, mdtrt_id=episode.mdtrt_id)
    return his.call("5203", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs)


# ── faults (the builtin simulators made to fail for a while) ──


@contextmanager
def fault(sut: Sut, *faults: str, at: str | None = None) -> Iterator[None]:
    """Faults in yidi's own simulators for the ``with`` block (``yidi serve --fault`` syntax, e.g.
    ``drop-answer:2304*1``, ``insured-outage:500000/Y2304``); the run's mutants stay on. ``at``: the base URL
    of the yidi server hosting the faulted node when that is not the SUT (the insured provinces yidi serves
    behind a hub under test). A system of one's own cannot be made to fail: the case is skipped, saying so."""
    admin = f"{injectable(sut, at=at)}/admin/faults"
    before = httpx.get(admin, headers=sut.admin).raise_for_status().json()

    def switch(to: list[str]) -> None:  # the admin endpoint sets faults and mutants together
        body = {"faults": to, "mutants": before["mutants"]}
        httpx.post(admin, json=body, headers=sut.admin).raise_for_status()

    switch([*before["faults"], *faults])
    try:
        yield
    finally:
        switch(before["faults"])


def injectable(sut: Sut, *, at: str | None = None) -> str:
    """Where faults can be injected (a yidi server's base URL), else the case is skipped, saying so. A case
    whose fault comes after steps that change the SUT asks first, so a skip leaves nothing half-done."""
    base = at or (sut.url if sut.builtin else None)
    cannot = "本用例需注入故障，仅yidi模拟器支持（--sut-url builtin）"
    if base is None:
        pytest.skip(cannot)
    try:
        httpx.get(f"{base}/admin/faults", headers=sut.admin).raise_for_status()
    except httpx.HTTPError as e:
        pytest.skip(f"{cannot}：{base}/admin/faults 不可用（{e}）")
    return base


@contextmanager
def clock(sut: Sut) -> Iterator[Callable[..., None]]:
    """``move(when, freeze=False)`` sets the SUT's simulated clock (``2026-12-31T23:59:59.500``; frozen: every
    message at that instant, for a month's last second); afterwards it runs on from where it was, as if never
    moved. Only yidi's simulators have a clock to move: otherwise the case is skipped, saying so."""
    admin = f"{injectable(sut)}/admin/clock"
    before, started = httpx.get(admin, headers=sut.admin).raise_for_status().json(), time.monotonic()

    def move(when: str, *, freeze: bool = False) -> None:
        httpx.post(admin, json={"set": when, "freeze": freeze}, headers=sut.admin).raise_for_status()

    try:
        yield move
    finally:
        frozen = before["frozen"] in (True, "true", "True")
        back = datetime.fromisoformat(before["now"]) + timedelta(
            seconds=0 if frozen else time.monotonic() - started
        )
        back_then = {"set": back.isoformat(), "freeze": frozen}
        httpx.post(admin, json=back_then, headers=sut.admin).raise_for_status()


def housekeeping(sut: Sut) -> None:
    """What yidi's platform does in the background every few seconds, now: reverse stranded claims."""
    httpx.post(f"{sut.url}/admin/flush", timeout=30, headers=sut.admin).raise_for_status()


# The amounts of a settlement answer, which a cancellation negates and a query repeats: the spec's money
# fields of 2304's setlinfo, but the balance after
MONEY = money.amounts(loader.load())


def deductible_once_a_year(
    infno: str, first: tuple[str, Mapping[str, Any]], again: tuple[str, Mapping[str, Any]]
) -> None:
    """R-BEN-01 on two settlements (setlinfo): ``first`` is a person's first stay of the year and pays the
    deductible; ``again`` is a person who paid it already this year and pays none."""
    (who, s), (other, t) = first, again
    if not s["act_pay_dedc"] > 0:
        fail(
            f"{who}本年首次住院应扣起付线，实际act_pay_dedc={s['act_pay_dedc']}",
            rule="R-BEN-01",
            infno=infno,
            expected={"act_pay_dedc": "> 0"},
            actual={"act_pay_dedc": s["act_pay_dedc"]},
        )
    if t["act_pay_dedc"] != 0:
        fail(
            f"{other}本年已付满起付线，不应再扣，实际act_pay_dedc={t['act_pay_dedc']}",
            rule="R-BEN-01",
            infno=infno,
            expected={"act_pay_dedc": 0},
            actual={"act_pay_dedc": t["act_pay_dedc"]},
        )


def running_totals(reply: Reply) -> dict[str, Decimal]:
    """A 5206 / Y5206 answer as 累计类别 → 累计值."""
    return {str(r["cum_type_code"]): money.yuan(r["cum"]) for r in reply.output.get("cuminfo") or []}


def totals_follow(before: Reply, after: Reply, settlement: Mapping[str, Any], sign: int, what: str) -> None:
    """R-QRY-04: between two queries of a person's running totals, one inpatient settlement (``sign`` 1)
    or its cancellation (−1) moved them by what it paid: a stay, the deductible, each fund line."""
    s = settlement["setlinfo"]
    expected = {"C0000": Decimal(sign), "Q0000": sign * money.yuan(s["act_pay_dedc"])}
    for line in settlement.get("setldetail") or []:
        code = f"D{str(line['fund_pay_type'])[:5]}1"
        expected[code] = expected.get(code, ZERO) + sign * money.yuan(line["fund_payamt"])
    was, now = running_totals(before), running_totals(after)
    moved = {code: now.get(code, ZERO) - was.get(code, ZERO) for code in expected}
    differ = [code for code in expected if moved[code] != expected[code]]
    if differ:
        fail(
            f"{what}后，人员累计信息【{after.infno}】应随之变化，不符：" + "、".join(differ),
            rule="R-QRY-04",
            on=after,
            expected={
                code: f"{was.get(code, ZERO)} → {was.get(code, ZERO) + expected[code]}" for code in differ
            },
            actual={code: f"{was.get(code, ZERO)} → {now.get(code, ZERO)}" for code in differ},
        )


def added_by(settlements: Iterable[Mapping[str, Any]]) -> dict[str, Decimal]:
    """What standing settlements (2304 outputs) add to their year's totals: a stay each, the deductible
    paid, each fund's payment."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for settlement in settlements:
        out["C0000"] += 1
        out["Q0000"] += money.yuan(settlement["setlinfo"]["act_pay_dedc"])
        for line in settlement.get("setldetail") or []:
            out[f"D{str(line['fund_pay_type'])[:5]}1"] += money.yuan(line["fund_payamt"])
    return out


def counters_are(what: str, found: Mapping[str, Decimal], expected: Mapping[str, Decimal], on: Reply) -> None:
    """Each expected 5206 counter (or the balance) is what the standing settlements make it, to the cent."""
    wrong = {k: (v, found.get(k, Decimal(0))) for k, v in expected.items() if found.get(k, Decimal(0)) != v}
    if wrong:
        fail(
            f"{what}应与仍有效的结算逐项相符，不符："
            + "、".join(f"{k}应为{v[0]}、实际{v[1]}" for k, v in wrong.items()),
            rule="R-BEN-06" if "balc" in wrong else "R-QRY-04",
            on=on,
            expected={k: float(v[0]) for k, v in wrong.items()},
            actual={k: float(v[1]) for k, v in wrong.items()},
        )
