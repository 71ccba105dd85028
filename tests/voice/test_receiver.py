"""The receiver on its own: jitter buffer order, concealment bounds, bounded queues, unknown speakers."""

from __future__ import annotations

import os
import struct

import numpy as np

from bot.voice.receiver import Receiver
from bot.voice.transport import TransportCipher
from tests.fakes.voice import AES, encode_opus, seal

KEY = os.urandom(32)
USER = 55
SSRC = 9


def _packet(seq: int, opus: bytes, counter: int) -> bytes:
    header = struct.pack(">BBHII", 0x80, 0x78, seq & 0xFFFF, (seq * 960) & 0xFFFFFFFF, SSRC)
    return seal(AES, KEY, header, opus, counter)


def _receiver(max_queued: int = 250) -> Receiver:
    receiver = Receiver(jitter_frames=3, max_queued_frames=max_queued)
    receiver.cipher = TransportCipher(AES, KEY)
    receiver.map_ssrc(SSRC, USER)
    return receiver


def test_a_jump_in_sequence_resynchronises_instead_of_inventing_seconds_of_audio() -> None:
    frames = encode_opus(bytes(3840 * 6))
    receiver = _receiver()
    for i, seq in enumerate([65534, 65535, 0, 30000, 30001, 30002]):  # wraps, then the sender skips far ahead
        receiver.datagram(_packet(seq, frames[i], i + 1))
    receiver.tick()
    assert receiver.stats.frames_delivered == 6
    assert receiver.stats.concealed == 0


def test_queues_stay_bounded_when_nobody_reads_and_unknown_speakers_are_dropped() -> None:
    frames = encode_opus(bytes(3840 * 40))
    receiver = _receiver(max_queued=10)
    for i, opus in enumerate(frames[:40]):
        receiver.datagram(_packet(i, opus, i + 1))
    assert receiver.stats.frames_delivered >= 35
    assert receiver.stats.overflow_dropped >= 25
    stranger = struct.pack(">BBHII", 0x80, 0x78, 1, 960, 12345)
    receiver.datagram(seal(AES, KEY, stranger, frames[0], 99))
    assert receiver.stats.unknown_speaker == 1


OTHER_USER = 66
OTHER_SSRC = 10
# A code-3 Opus packet announcing more frames than it holds: libopus rejects it.
CORRUPT_OPUS = b"\xff\xff\xff\xff\xff\xff"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _rtp(seq: int, payload: bytes, counter: int, ssrc: int = SSRC, first: int = 0x80) -> bytes:
    header = struct.pack(">BBHII", first, 0x78, seq & 0xFFFF, (seq * 960) & 0xFFFFFFFF, ssrc)
    return seal(AES, KEY, header, payload, counter)


def _two_speakers(clock: Clock) -> Receiver:
    receiver = Receiver(jitter_frames=3, clock=clock)
    receiver.cipher = TransportCipher(AES, KEY)
    receiver.map_ssrc(SSRC, USER)
    receiver.map_ssrc(OTHER_SSRC, OTHER_USER)
    return receiver


def _tone(frames: int) -> list[bytes]:
    return encode_opus((np.sin(np.arange(960 * 2 * frames) / 5) * 9000).astype(np.int16).tobytes())[:frames]


def test_a_corrupt_frame_is_concealed_and_everyone_is_still_heard_and_goes_idle() -> None:
    # Failed before the fix: the decoder's error escaped the tick that flushes held frames, so (in the session) the
    # tick task died: nobody went idle again and the other speaker's held frames were never delivered.
    clock = Clock()
    receiver = _two_speakers(clock)
    tone = _tone(6)
    counter = 0
    for seq in range(6):
        counter += 2
        receiver.datagram(_rtp(seq, CORRUPT_OPUS if seq == 5 else tone[seq], counter - 1, SSRC))
        receiver.datagram(_rtp(seq, tone[seq], counter, OTHER_SSRC))
    clock.now += 1  # both fell quiet: the tick flushes what the jitter buffers still hold
    receiver.tick()
    heard = [receiver._all.popleft() for _ in range(len(receiver._all))]  # pyright: ignore[reportPrivateUsage]
    mine = [f for f in heard if f.user_id == USER]
    theirs = [f for f in heard if f.user_id == OTHER_USER]
    assert [f.concealed for f in mine] == [False] * 5 + [True]
    assert [f.concealed for f in theirs] == [False] * 6
    assert receiver.stats.decode_errors == 1
    assert receiver.heard_users == []  # both went idle
    # The speaker whose frame was corrupt is heard normally when they speak again.
    for seq in range(6, 10):
        counter += 1
        receiver.datagram(_rtp(seq, tone[seq % 6], counter, SSRC))
    again = [receiver._all.popleft() for _ in range(len(receiver._all))]  # pyright: ignore[reportPrivateUsage]
    assert [(f.user_id, f.concealed) for f in again] == [(USER, False)] * 4
    assert receiver.heard_users == [USER] and receiver.stats.receive_errors == 0


def test_padding_only_packets_at_a_dtx_boundary_are_not_concealed_as_loss() -> None:
    # Failed before the fix: the two padding-only packets were left out of the sequence and concealed as lost audio.
    clock = Clock()
    receiver = _two_speakers(clock)
    tone = _tone(8)
    padding_only = bytes(7) + bytes([8])
    for counter, seq in enumerate(range(10), start=1):
        if seq in (5, 6):
            receiver.datagram(_rtp(seq, padding_only, counter, first=0xA0))
        else:
            receiver.datagram(_rtp(seq, tone[seq if seq < 5 else seq - 2], counter))
    clock.now += 1
    receiver.tick()
    assert receiver.stats.frames_delivered == 8
    assert receiver.stats.concealed == 0 and receiver.stats.not_audio == 2


def test_packets_that_are_not_rtp_version_2_are_dropped() -> None:
    # Failed before the fix: a version-1 packet was decoded and delivered as the speaker's audio.
    clock = Clock()
    receiver = _two_speakers(clock)
    tone = _tone(3)
    for seq in range(3):
        receiver.datagram(_rtp(seq, tone[seq], seq + 1, first=0x40))
    clock.now += 1
    receiver.tick()
    assert receiver.stats.frames_delivered == 0 and receiver.stats.not_audio == 3
    assert receiver.heard_users == []
