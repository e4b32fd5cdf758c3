"""Build envelopes (公共入参 / 公共出参) from the spec's field list, and the identifiers they carry.

``msgid`` = sender code (12) + yyyyMMddHHmmss + 4-character sequence; ``inf_refmsgid`` = receiver
admdvs (6) + yyyyMMddHHmmss + 10-digit serial (nhsa-interface.md §1).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .model import Spec

# A simulated message formats about seven times. strftime and isoformat go through C's printf and
# cost 8,000 to 10,000 instructions a call (callgrind); joining the digits from a table of the 100
# two-digit strings costs half as much, and gives the same text.
TWO_DIGITS = [f"{i:02d}" for i in range(100)]
THREE_DIGITS = [f"{i:03d}" for i in range(1000)]


def stamp(when: datetime) -> str:
    """yyyyMMddHHmmss, as msgids, inf_refmsgids and the envelope's times carry it."""
    d = TWO_DIGITS
    return f"{when.year}{d[when.month]}{d[when.day]}{d[when.hour]}{d[when.minute]}{d[when.second]}"


def stamp_ms(when: datetime) -> str:
    """yyyyMMddHHmmssSSS, the response envelope's refmsg_time and respond_time."""
    return stamp(when) + THREE_DIGITS[when.microsecond // 1000]


def datetime_text(when: datetime) -> str:
    """yyyy-MM-dd HH:mm:ss, the interface's datetime fields."""
    d = TWO_DIGITS
    return f"{when.year}-{d[when.month]}-{d[when.day]} {d[when.hour]}:{d[when.minute]}:{d[when.second]}"


class MsgIds:
    """msgids for one sender: unique per sender while fewer than 10,000 are made in one second."""

    def __init__(self, sender_code: str, start: int = 1, width: int = 10000) -> None:
        """``start`` and ``width``: the sequence runs round ``start`` … ``start + width - 1`` only, so that
        processes sending for one sender take disjoint ranges however long they run (Locust workers of one
        hospital); unique while fewer than ``width`` are made in one second."""
        if len(sender_code) != 12:
            raise ValueError(f"a msgid needs a 12-character sender code, got {sender_code!r}")
        if not (0 <= start < 10000 and 0 < width <= 10000):
            raise ValueError(f"msgid sequence range {start}+{width}: four digits at most")
        self.sender_code = sender_code
        self._seq = itertools.count(0)
        self.start, self.width = start, width

    def __call__(self, when: datetime) -> str:
        seq = (self.start + next(self._seq) % self.width) % 10000  # count's next(): one step under the GIL
        return f"{self.sender_code}{stamp(when)}{seq:04d}"


class RefMsgIds:
    """inf_refmsgids for one receiver (its 6-digit admdvs), with a 10-digit serial."""

    def __init__(self, admdvs: str, start: int = 1) -> None:
        self.admdvs = admdvs
        self._serial = itertools.count(start)

    def __call__(self, when: datetime) -> str:
        serial = next(self._serial) % 10**10  # count's next() is one step under the GIL: no lock
        return f"{self.admdvs}{stamp(when)}{serial:010d}"


def request(
    spec: Spec, infno: str, input: Mapping[str, Any], *, msgid: str, when: datetime, **envelope: Any
) -> dict[str, Any]:
    """A request envelope in the spec's field order; optional fields not given are sent as ""."""
    unknown = set(envelope) - set(spec.request)
    if unknown:
        raise TypeError(f"not envelope fields: {sorted(unknown)}")
    values = {"infno": infno, "msgid": msgid, "inf_time": datetime_text(when), **envelope}
    msg: dict[str, Any] = {name: values.get(name, "") for name in spec.request}
    msg["input"] = dict(input)
    return msg


def response(
    spec: Spec,
    *,
    infcode: int,
    refmsgid: str,
    received: datetime,
    responded: datetime,
    output: Any = None,
    err_msg: str | None = None,
    warn_msg: str | None = None,
) -> dict[str, Any]:
    """A response envelope: ``output`` on success, ``err_msg`` otherwise (as real platforms send)."""
    msg: dict[str, Any] = {
        "infcode": infcode,
        "inf_refmsgid": refmsgid,
        "refmsg_time": stamp_ms(received),
        "respond_time": stamp_ms(responded),
        "err_msg": err_msg,
        "warn_msg": warn_msg,
        "cainfo": None,
        "signtype": None,
        "output": output if infcode == 0 else None,
    }
    key = ("response-drops",)  # the fields this spec's envelope does not have (usually none)
    if key not in spec.cache:
        spec.cache[key] = [k for k in msg if k not in spec.response and k != "output"]
    for k in spec.cache[key]:
        del msg[k]
    return msg
