"""Per-user rate limits on model calls (a sliding window kept in this process)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from bot.errors import RateLimited


class RateLimiter:
    """Allows `calls` per `window_s` seconds per key; `take` raises RateLimited past that, `give_back` undoes one."""

    def __init__(self, calls: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._calls = calls
        self._window = window_s
        self._clock = clock
        self._history: dict[int, deque[float]] = {}

    def take(self, key: int) -> None:
        now = self._clock()
        history = self._history.setdefault(key, deque())
        while history and history[0] <= now - self._window:
            history.popleft()
        if len(history) >= self._calls:
            raise RateLimited(history[0] + self._window - now)
        history.append(now)
        if len(self._history) > 10_000:  # forget idle users so memory stays bounded
            for stale in [k for k, h in self._history.items() if not h or h[-1] <= now - self._window]:
                del self._history[stale]

    def give_back(self, key: int) -> None:
        """Returns the latest call taken for `key`, for a call that was started and then abandoned unused (a voice
        answer begun during a pause that turned out not to be the end of the question)."""
        history = self._history.get(key)
        if history:
            history.pop()
