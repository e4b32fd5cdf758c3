"""What a HIS knows and gets back: its hospital, a visit (an episode), the platform's reply to one message,
and the ways a call fails; what reading a card gives, and the msgid sequence of an institution."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ...specs import envelope


@functools.cache
def msgids(fixmedins_code: str) -> envelope.MsgIds:
    """One msgid sequence per institution in this process: two HIS objects of one hospital never collide."""
    return envelope.MsgIds(fixmedins_code)


class LostAnswer(Exception):
    """No answer came back (timeout, connection lost, or a non-200 from the gateway)."""

    def __init__(self, infno: str, msgid: str, why: str) -> None:
        super().__init__(f"{infno} {msgid}: {why}")
        self.infno, self.msgid = infno, msgid


class Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(f"{reply.infno} refused: infcode {reply.infcode} {reply.err_msg}")
        self.reply = reply


@dataclass
class Reply:
    infno: str
    msgid: str
    request: dict[str, Any]  # as sent
    body: dict[str, Any]  # as read: in the base spec's shapes and meanings
    seconds: float
    received: dict[str, Any] | None = None  # as the platform sent it, when its profile differs from the base
    file: bytes | None = None  # a file the platform answered as itself (9102), the envelope then made up
    headers: dict[str, str] | None = None  # the x-tif headers it was sent with (evidence of who signed it)
    size: int = 0  # bytes of the answer's body as received

    @property
    def infcode(self) -> int:
        return int(self.body.get("infcode", -1))

    @property
    def ok(self) -> bool:
        return self.infcode == 0

    @property
    def output(self) -> Any:
        return self.body.get("output")

    @property
    def err_msg(self) -> str:
        return str(self.body.get("err_msg") or "")

    @property
    def warn_msg(self) -> str:
        return str(self.body.get("warn_msg") or "")


@dataclass(frozen=True)
class Hospital:
    """What a HIS knows about itself: the roster's hospital entry."""

    fixmedins_code: str
    name: str
    admdvs: str
    gateway: str
    paasid: str
    secret: str

    @classmethod
    def from_roster(cls, entry: Mapping[str, Any]) -> Hospital:
        return cls(
            entry["fixmedins_code"],
            entry["name"],
            entry["admdvs"],
            entry["gateway"],
            entry["paasid"],
            entry["secret"],
        )


class Insured:
    """A visit's person as the person-info answer (1101, Y1101) gave them."""

    person: dict[str, Any]

    @property
    def psn_no(self) -> str:
        return str(self.person["baseinfo"]["psn_no"])

    @property
    def insutype(self) -> str:
        return str(self.person["insuinfo"][0]["insutype"])


@dataclass
class Episode(Insured):
    """One visit as the HIS sees it."""

    person: dict[str, Any]  # 1101 output
    insuplc_admdvs: str
    mdtrt_id: str = ""
    fees: list[dict[str, Any]] = field(default_factory=list)  # 2301 result rows
    presettlement: dict[str, Any] | None = None
    settlement: dict[str, Any] | None = None
    settle_msgid: str = ""
    replies: list[Reply] = field(default_factory=list)

    def totals(self) -> dict[str, float]:
        def d(key: str) -> Decimal:
            return sum((Decimal(str(r[key] or 0)) for r in self.fees), Decimal(0))

        return {
            "medfee_sumamt": float(d("det_item_fee_sumamt")),
            "fulamt_ownpay_amt": float(d("fulamt_ownpay_amt")),
            "overlmt_selfpay": float(d("overlmt_amt")),
            "preselfpay_amt": float(d("preselfpay_amt")),
            "inscp_scp_amt": float(d("inscp_scp_amt")),
        }


def card_read(person: Mapping[str, Any]) -> dict[str, Any]:
    """What reading a roster person's card gives (真人真卡): the fields 1101 and 2401 take."""
    return {
        "cardno": person["card"]["cardno"],
        "card_sn": person["card"]["card_sn"],
        "certno": person["certno"],
        "psn_name": person["name"],
        "admdvs": person["insuplc_admdvs"],
        "ectoken": person["ectoken"],
    }


def credential(card: Mapping[str, Any], cert_type: str) -> tuple[str, str]:
    """(mdtrt_cert_type, mdtrt_cert_no) from a card read: 01 e-voucher token, 02 ID number, 03 card number."""
    return cert_type, str(card[{"01": "ectoken", "02": "certno", "03": "cardno"}[cert_type]])
