"""The receiver on its own: jitter buffer order, concealment bounds, bounded queues, unknown speakers."""

from __future__ import annotations

import os
import struct

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
