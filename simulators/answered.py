"""Which msgids a node may already have answered, so that a new one needs no database lookup.

Nearly every message carries a msgid never seen before, and looking it up (R-IDEM-01) was a tenth of
a sign-in's cost. A Bloom filter over the node's answered msgids says "certainly not" for those
without touching the database, and "maybe" for the rest, which are then looked up as before. It never
says "not" for a msgid the node answered: it is filled from the database when the node starts and
with every answer the node records after. That holds while one process serves the node, as
``yidi serve`` and ``--only`` do; should it ever fail, the messages table's key (node, msgid) still
refuses a second answer, and the unit that tried rolls back. Memory is fixed (a megabyte a node); as
answers accumulate, more msgids come out "maybe" and are looked up, never skipped wrongly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


class Answered:
    BITS = 1 << 23  # 1 MiB: about 4 % of new msgids are looked up once a node holds a million
    MASK = BITS - 1

    def __init__(self, msgids: Iterable[str] = ()) -> None:
        self.bits = bytearray(self.BITS >> 3)
        self._lock = threading.Lock()  # |= on a byte is read, or, write: two threads could lose a bit
        for msgid in msgids:
            self.add(msgid)

    # the two slots of a msgid come from one hash (str hashes are salted per process: the filter lives
    # in one), computed where they are used: this is on every message

    def add(self, msgid: str) -> None:
        h, bits = hash(msgid), self.bits
        first, second = h & self.MASK, (h >> 32) & self.MASK
        with self._lock:
            bits[first >> 3] |= 1 << (first & 7)
            bits[second >> 3] |= 1 << (second & 7)

    def __contains__(self, msgid: str) -> bool:
        """False: certainly never answered. True: maybe; ask the database."""
        h, bits = hash(msgid), self.bits
        first, second = h & self.MASK, (h >> 32) & self.MASK
        return bool(bits[first >> 3] & (1 << (first & 7)) and bits[second >> 3] & (1 << (second & 7)))
