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
