"""The agents' cache of the keys that open sealed events (agents/erasure.py), with no server."""

from __future__ import annotations

from agents.erasure import Keys


def test_keys_leave_when_forgotten_when_too_old_and_past_the_bound_oldest_first():
    now = [0.0]
    keys = Keys(size=2, seconds=10, clock=lambda: now[0])
    keys.learn({1: b"a", 2: b"b"})
    assert keys.known({1, 2, 3}) == {1: b"a", 2: b"b"}
    keys.forget({1})  # its account is deleted
    assert keys.known({1, 2}) == {2: b"b"}
    now[0] = 5.0
    keys.learn({3: b"c", 4: b"d"})  # past the bound: 2, read first, goes
    assert keys.known({2, 3, 4}) == {3: b"c", 4: b"d"}
    now[0] = 15.5  # ten seconds after they were read
    assert keys.known({3, 4}) == {}
