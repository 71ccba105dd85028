"""Sends scheduled voice packets at their due time from a dedicated thread, so the 20 ms cadence does not wait on
the event loop (which may be busy, or waiting for the GIL behind Whisper's Python code).

The thread only sleeps, seals (one AEAD call) and writes to the UDP socket; everything else stays on the loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

_log = logging.getLogger(__name__)


class FrameSender:
    """A queue of (frame, due time on the monotonic clock) drained in order by one daemon thread."""

    def __init__(self, transmit: Callable[[bytes], None], name: str = "voice-sender") -> None:
        self._transmit = transmit
        self._queue: deque[tuple[bytes, float]] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self.record_send_times = False
        self.send_times: list[float] = []

    def schedule(self, frame: bytes, due: float) -> None:
        with self._wake:
            if not self._started:
                self._started = True
                self._thread.start()
            self._queue.append((frame, due))
            self._wake.notify()

    def cancel(self) -> None:
        """Drop every frame not yet sent (barge-in)."""
        with self._wake:
            self._queue.clear()
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._queue.clear()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                frame, due = self._queue[0]
                delay = due - time.monotonic()
                if delay > 0:
                    # Woken early by a new frame or a cancel: re-check the head of the queue.
                    self._wake.wait(delay)
                    if not self._queue or self._queue[0][1] != due or due > time.monotonic():
                        continue
                self._queue.popleft()
            try:
                self._transmit(frame)
            except Exception:
                _log.warning("voice: a frame could not be sent", exc_info=True)
            if self.record_send_times:
                self.send_times.append(time.monotonic())
