"""``yidi demo``: a short joint test (联调) against running simulators, over HTTP, with the HIS client.

Each scenario is what a test team does on its first day with real persons and real cards: a
cross-province inpatient episode, the same settlement sent twice, a local episode, cancel and settle
again, an outpatient visit, and the refusals a platform must give (not filed, lost card, filing expired).
Every answer is checked against the spec (money invariants included) as well as for its expected outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..actors import admin
from ..actors.his import Episode, His, Hospital, Refused, Reply
from ..specs import loader
from ..specs.model import Spec
from ..specs.validate import validate
from ..world.topology import Topology


class Unexpected(Exception):
    """The scenario's outcome was not the one expected."""


@dataclass
class Outcome:
    key: str
    title: str
    person: str
    hospital: str
    passed: bool
    detail: str
    episode: Episode | None = None


class Demo:
    """The scenarios, against the simulators at ``url``; fee items come from ``topology``'s catalogs."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        client: httpx.Client | None = None,
        *,
        admin_token: str | None = None,  # of the server at url; default: YIDI_ADMIN_TOKEN
    ) -> None:
        self.url, self.topology = url.rstrip("/"), topology
        self.client = client or httpx.Client(timeout=30)
        roster = self.client.get(f"{self.url}/admin/roster", headers=admin.headers(admin_token))
        self.roster = roster.raise_for_status().json()
        self.spec: Spec = loader.load(self.roster["spec"])
        self.hospitals = {h["fixmedins_code"]: h for p in self.roster["provinces"] for h in p["hospitals"]}
        self._his: dict[str, His] = {}

    def his(self, code: str) -> His:
        if code not in self._his:
            self._his[code] = His(self.spec, Hospital.from_roster(self.hospitals[code]), client=self.client)
        return self._his[code]

    def card(self, person: str) -> dict[str, Any]:
        card: dict[str, Any] = self.client.get(f"{self.url}/cards/{person}").raise_for_status().json()
        return card

    def items(self, code: str, n: int = 8) -> list[tuple[str, float, float]]:
        return self.topology.fee_items(code, n)

    def checked(self, reply: Reply) -> Reply:
        """The answer as the spec requires it: shapes, codes and money invariants."""
        report = validate(self.spec, reply.body, infno=reply.infno, response=True)
        if not report.valid:
            raise Unexpected(f"{reply.infno}应答不符合规范：{report.errors[0].zh}")
        return reply

    # ── scenarios ──────────────────────────────────────────────────

    def inpatient(self, person: str, code: str) -> tuple[str, Episode]:
        episode = self.his(code).inpatient_episode(self.card(person), self.items(code))
        for reply in episode.replies:
            self.checked(reply)
        return split_text(episode.settlement), episode

    def same_msgid_twice(self, episode: Episode, code: str) -> str:
        first = next(r for r in reversed(episode.replies) if r.infno == "2304")
        again = self.checked(self.his(code).send(first.request))
        if again.output != first.output:
            raise Unexpected("同一msgid两次应答不同：可能重复支付")
        return f"两次应答相同，只结算一次 setl_id={first.output['setlinfo']['setl_id']}"

    def cancel_and_settle_again(self, episode: Episode, code: str) -> str:
        his, before = self.his(code), episode.settlement
        self.checked(his.cancel_settlement(episode))
        self.checked(his.settle(episode))
        after = episode.settlement
        # the cancellation gave back the deductible and the year's usage: the same split again
        if split_text(after) != split_text(before):
            raise Unexpected(f"撤销后重新结算金额不同：{split_text(before)} → {split_text(after)}")
        old, new = before["setlinfo"]["setl_id"], after["setlinfo"]["setl_id"]  # type: ignore[index]
        if old == new:
            raise Unexpected("重新结算沿用了已撤销的结算ID")
        return f"撤销 {old}，重新结算 {new}，金额相同"

    def outpatient(self, person: str, code: str) -> tuple[str, Episode]:
        episode = self.his(code).outpatient_visit(self.card(person), self.items(code, 4))
        for reply in episode.replies:
            self.checked(reply)
        return split_text(episode.settlement), episode

    def refused(self, person: str, code: str, expected: str, cert_type: str = "03") -> str:
        try:
            self.his(code).inpatient_episode(self.card(person), self.items(code), cert_type=cert_type)
        except Refused as e:
            self.checked(e.reply)
            if not e.reply.err_msg.startswith(f"[{expected}]"):
                raise Unexpected(f"应拒绝（{expected}），实际：{e.reply.err_msg}") from None
            return f"【{e.reply.infno}】{e.reply.err_msg}"
        raise Unexpected(f"应拒绝（{expected}），实际结算成功")

    def scenarios(self) -> list[tuple[str, str, str, str, Callable[[], str | tuple[str, Episode]]]]:
        """(key, title, person, hospital, run); later scenarios may use earlier episodes."""
        done: dict[str, Episode] = {}

        def keep(key: str, run: Callable[[], tuple[str, Episode]]) -> Callable[[], tuple[str, Episode]]:
            def wrapped() -> tuple[str, Episode]:
                detail, episode = run()
                done[key] = episode
                return detail, episode

            return wrapped

        def after(key: str, run: Callable[[Episode], str]) -> Callable[[], str]:
            def wrapped() -> str:
                if key not in done:
                    raise Unexpected(f"依赖的场景{key}未成功")
                return run(done[key])

            return wrapped

        cq, cd, hz, bj = "H50000000001", "H51010000001", "H33010000001", "H11000000001"
        return [
            (
                "cross-inpatient",
                "跨省住院直接结算：四川退休人员在重庆住院",
                "P01",
                cq,
                keep("cross", lambda: self.inpatient("P01", cq)),
            ),
            (
                "same-msgid",
                "同一msgid重复提交结算【2304】",
                "P01",
                cq,
                after("cross", lambda e: self.same_msgid_twice(e, cq)),
            ),
            (
                "local-inpatient",
                "本地住院结算（成都参保成都就医，不经国家平台）",
                "P09",
                cd,
                keep("local", lambda: self.inpatient("P09", cd)),
            ),
            (
                "cancel-resettle",
                "撤销结算【2305】后重新结算",
                "P09",
                cd,
                after("local", lambda e: self.cancel_and_settle_again(e, cd)),
            ),
            (
                "cross-outpatient",
                "跨省普通门诊：四川在职职工常驻杭州",
                "P02",
                hz,
                lambda: self.outpatient("P02", hz),
            ),
            ("not-filed", "未备案人员跨省结算应被拒绝", "P05", cq, lambda: self.refused("P05", cq, "E3002")),
            ("lost-card", "挂失社保卡读卡就医应被拒绝", "P08", cq, lambda: self.refused("P08", cq, "E3005")),
            (
                "filing-expired",
                "备案昨日到期，今日就医结算应被拒绝",
                "P47",
                bj,
                lambda: self.refused("P47", bj, "E3003", cert_type="02"),
            ),
        ]

    def run(self, progress: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        outcomes = []
        for key, title, person, code, run in self.scenarios():
            episode = None
            try:
                result = run()
                detail, episode = result if isinstance(result, tuple) else (result, None)
                passed = True
            except (Unexpected, Refused) as e:
                detail, passed = str(e), False
            except httpx.HTTPError as e:
                detail, passed = f"连接失败：{e!r}", False
            outcome = Outcome(key, title, person, self.hospitals[code]["name"], passed, detail, episode)
            outcomes.append(outcome)
            if progress:
                progress(outcome)
        return outcomes


def split_text(answer: Mapping[str, Any] | None) -> str:
    """How the settlement split the bill (its balance is one of the spec's rules, checked on every answer)."""
    s = (answer or {})["setlinfo"]
    return (
        f"医疗费 {s['medfee_sumamt']:.2f} = 基金 {s['fund_pay_sumamt']:.2f} + 个人 {s['psn_part_amt']:.2f}"
        f"（账户 {s['acct_pay']:.2f} + 现金 {s['psn_cash_pay']:.2f}）"
    )
