"""The voice sender thread sends frames in the order scheduled, drops what a barge-in cancels, and keeps going when
one frame cannot be sent."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from bot.voice.sender import FrameSender

WAIT_S = 10.0  # only a bound on a broken sender; the frames are due at once


class Socket:
    """A UDP socket stand-in: records frames, fails on b"bad", and signals once `expected` frames were sent."""

    def __init__(self, expected: int) -> None:
        self.sent: list[bytes] = []
        self.expected = expected
        self.done = threading.Event()

    def transmit(self, frame: bytes) -> None:
        if frame == b"bad":
            raise OSError("network unreachable")
        self.sent.append(frame)
        if len(self.sent) >= self.expected:
            self.done.set()


def test_frames_go_out_in_the_order_they_were_scheduled() -> None:
    socket = Socket(expected=3)
    sender = FrameSender(socket.transmit)
    now = time.monotonic()
    for n in range(3):
        sender.schedule(b"frame%d" % n, now - 1 + n * 0.001)  # all already due
    assert socket.done.wait(WAIT_S)
    sender.close()
    assert socket.sent == [b"frame0", b"frame1", b"frame2"]


def test_a_cancel_drops_the_frames_not_yet_sent() -> None:
    socket = Socket(expected=1)
    sender = FrameSender(socket.transmit)
    sender.schedule(b"later", time.monotonic() + 3600)  # not due for an hour
    sender.cancel()
    sender.schedule(b"now", time.monotonic() - 1)
    assert socket.done.wait(WAIT_S)
    sender.close()
    assert socket.sent == [b"now"]


def test_a_frame_that_cannot_be_sent_is_logged_and_the_next_still_goes(caplog: pytest.LogCaptureFixture) -> None:
    socket = Socket(expected=2)
    sender = FrameSender(socket.transmit)
    with caplog.at_level(logging.WARNING, logger="bot.voice.sender"):
        now = time.monotonic() - 1
        for n, frame in enumerate((b"one", b"bad", b"two")):
            sender.schedule(frame, now + n * 0.001)
        assert socket.done.wait(WAIT_S)
        sender.close()
    assert socket.sent == [b"one", b"two"]
    assert "a frame could not be sent" in caplog.text
