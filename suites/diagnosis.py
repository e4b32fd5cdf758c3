"""The real cause of a refusal a case did not expect (issue #19 item 7).

A refusal is the system under test's answer, so a case it stops has failed, not errored: a ``Refused`` that
escapes a case's steps is a verdict (应受理而拒绝), never "could not be performed" (the test environment).
And a refusal that says the person or the credential is unknown (E3001), for a person the world under test
has, or any refusal of a message addressed to another province than the person's (a wrong
insuplc_admdvs), is a routing mistake: the message never reached the person's insured province. It is
reported as such (R-ROUTE-01), naming where the person is insured and where the message went.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..actors.his import Refused, Reply
from ..world.topology import Person, Topology
from .failures import Failure, UnexpectedRefusal

UNKNOWN = "E3001"  # 人员不存在或凭证无效: what an insured province says of someone not its own
IDENTIFIERS = ("psn_no", "mdtrt_cert_no", "certno")


class Misrouted(Failure):
    """A message did not reach the insured province of the person it concerns."""

    code, title = "misrouted", "路由错误"


def reason(e: BaseException, world: Topology | None) -> BaseException:
    """What a case stopped by ``e`` failed of: an escaped refusal as an unexpected one, and either as a
    routing mistake where that is the cause; anything else unchanged."""
    if isinstance(e, Refused):
        r = e.reply
        e = UnexpectedRefusal(
            f"应成功，实际应答 infcode={r.infcode} {r.err_msg}",
            rule=None,
            on=r,
            expected={"infcode": 0},
            actual={"infcode": r.infcode, "err_msg": r.err_msg},
        )
    if isinstance(e, UnexpectedRefusal) and isinstance(e.on, Reply) and world is not None:
        return misrouted(world, e.on) or e
    return e


def misrouted(world: Topology, reply: Reply) -> Misrouted | None:
    """The routing mistake behind a refusal, if that is what it is."""
    if reply.ok:
        return None
    person = whose(world, reply.request.get("input") or {})
    if person is None:
        return None
    home, sent = person.insuplc_admdvs, str(reply.request.get("insuplc_admdvs") or "")
    if sent and sent[:2] != home[:2]:
        why = f"报文的参保地区划insuplc_admdvs为{sent}，而人员{person.key}参保地为{home}：报文被送往其他省份"
    elif reply.err_msg.startswith(f"[{UNKNOWN}]"):
        why = (
            f"人员{person.key}参保于{home}，被测世界中存在，却被应答人员不存在（{UNKNOWN}）："
            f"报文未送达其参保地{home}，而非人员或凭证无效"
        )
    else:
        return None
    return Misrouted(
        f"路由错误：{why}（应答 {reply.err_msg}）",
        rule="R-ROUTE-01",
        on=reply,
        expected={"路由至参保地": home},
        actual={
            "insuplc_admdvs": sent or "（按凭证路由）",
            "infcode": reply.infcode,
            "err_msg": reply.err_msg,
        },
    )


def whose(world: Topology, content: Mapping[str, Any]) -> Person | None:
    """The world's person a message's input names (psn_no, the credential's number or the ID number)."""
    index = {p.psn_no: p for p in world.persons.values()}
    index |= {p.certno: p for p in world.persons.values()}
    index |= {p.card.cardno: p for p in world.persons.values()}
    return next((index[v] for v in identifiers(content) if v in index), None)


def identifiers(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for k, v in node.items():
            if k in IDENTIFIERS and v:
                yield str(v)
            else:
                yield from identifiers(v)
    elif isinstance(node, list):
        for item in node:
            yield from identifiers(item)
