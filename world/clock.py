"""Simulated time. A test team moves it to a month's end, across a year boundary or past a filing's
expiry without waiting; every record carries the simulated time it happened at. Gateway security
(x-tif-timestamp) stays on real time: the hospital's clock is real.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))  # the platforms' local time


# Naive datetimes in CST throughout. datetime.now(CST).replace(tzinfo=None) costs twice this sum (the
# replace parses keywords), and the clock is read twice a message.
EPOCH = datetime(1970, 1, 1) + CST.utcoffset(None)


def real_now() -> datetime:
    return EPOCH + timedelta(0, time.time())


class Clock:
    """Real time shifted by an offset, or frozen at an instant."""

    def __init__(self, offset: timedelta = timedelta(0), frozen: datetime | None = None) -> None:
        self.offset, self.frozen = offset, frozen

    def now(self) -> datetime:
        return self.frozen if self.frozen is not None else real_now() + self.offset

    def set(self, when: datetime, *, freeze: bool = False) -> None:
        self.frozen = when if freeze else None
        self.offset = when - real_now()

    def advance(self, delta: timedelta) -> None:
        if self.frozen is not None:
            self.frozen += delta
        self.offset += delta

    def state(self) -> dict[str, str | bool]:
        return {
            "now": self.now().isoformat(sep=" ", timespec="seconds"),
            "frozen": self.frozen is not None,
            "offset_seconds": str(round(self.offset.total_seconds())),
        }

    def restore(self, state: dict[str, str]) -> None:
        if state.get("frozen") in (True, "True", "true"):
            self.frozen = datetime.fromisoformat(str(state["now"]))
        self.offset = timedelta(seconds=float(state.get("offset_seconds", 0)))


def unix_now() -> float:
    return time.time()
