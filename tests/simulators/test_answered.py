"""The filter that spares a new msgid its database lookup must never forget one it was given."""

from __future__ import annotations

import secrets

from yidi.simulators.answered import Answered


def test_every_added_msgid_is_found_and_most_new_ones_are_not() -> None:
    added = [secrets.token_hex(15) for _ in range(50_000)]
    answered = Answered(added[:25_000])  # as loaded at start
    for msgid in added[25_000:]:  # as recorded after
        answered.add(msgid)
    assert all(msgid in answered for msgid in added)
    fresh = [secrets.token_hex(15) for _ in range(50_000)]
    assert sum(msgid in answered for msgid in fresh) < 500  # < 1 %: those are looked up, no harm
