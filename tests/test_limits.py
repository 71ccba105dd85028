from __future__ import annotations

import pytest

from bot.errors import RateLimited
from bot.limits import RateLimiter


def test_user_over_the_limit_is_told_when_to_retry_and_others_are_unaffected() -> None:
    now = [100.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0])
    limiter.take(1)
    limiter.take(1)
    with pytest.raises(RateLimited) as info:
        limiter.take(1)
    assert "60 s" in info.value.message
    limiter.take(2)  # another user
    now[0] += 30
    with pytest.raises(RateLimited) as info:
        limiter.take(1)
    assert "30 s" in info.value.message
    now[0] += 31
    limiter.take(1)


def test_a_call_given_back_does_not_count_against_the_user() -> None:
    now = [100.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0])
    limiter.take(1)
    now[0] += 1
    limiter.take(1)
    limiter.give_back(1)  # the second call was abandoned unused
    limiter.take(1)
    with pytest.raises(RateLimited):
        limiter.take(1)
    limiter.give_back(2)  # nothing taken: nothing to give back, and no credit gained
    limiter.take(2)
    limiter.take(2)
    with pytest.raises(RateLimited):
        limiter.take(2)
