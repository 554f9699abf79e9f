"""Bearer tokens: the cache of verified tokens never outlives a token."""

from __future__ import annotations

import time

import pytest

from api.problems import ProblemError
from api.security import Tokens


def test_a_verified_token_is_refused_once_it_expires_even_from_the_cache():
    tokens = Tokens("secret " * 8, ttl_seconds=1)
    token = tokens.issue(42, "ada")
    assert tokens.verify(token).user_id == 42
    assert tokens.verify(token).user_id == 42  # from the cache
    time.sleep(2.05)  # past `exp` (whole seconds) by PyJWT's clock and ours
    with pytest.raises(ProblemError) as refused:
        tokens.verify(token)
    assert refused.value.status == 401


def test_a_token_signed_with_another_secret_is_refused_after_a_good_one_was_cached():
    ours, theirs = Tokens("secret " * 8, 60), Tokens("forged " * 8, 60)
    assert ours.verify(ours.issue(1, "a")).user_id == 1
    with pytest.raises(ProblemError):
        ours.verify(theirs.issue(1, "a"))
