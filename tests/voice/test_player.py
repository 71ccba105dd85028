"""The voice player turns PCM into 20 ms Opus frames on an absolute schedule, ends every play with the silence
frames listeners' decoders need, says it is speaking only while it plays, and stops at once on barge-in."""

from __future__ import annotations

import asyncio
import io
import itertools
import wave
from collections.abc import AsyncIterator

import pytest

from bot.voice.player import FRAME_BYTES, FRAME_S, OPUS_SILENCE, Player, decode_audio

LEAD_S = 0.06  # frames are handed to the sender this early (the default send_lead_ms)


class Sender:
    """The sender thread as the player sees it: frames handed over with their due time, and barge-in cancels."""

    def __init__(self) -> None:
        self.frames: list[tuple[bytes, float]] = []
        self.cancels = 0
        self.speaking: list[bool] = []

    def schedule(self, frame: bytes, due: float) -> None:
        self.frames.append((frame, due))

    def cancel(self) -> None:
        self.cancels += 1


def player(sender: Sender, lead_s: float = LEAD_S) -> Player:
    return Player(
        lambda frame: pytest.fail("frames go through the sender"),
        sender.speaking.append,
        trailing_silence_frames=5,
        schedule=sender.schedule,
        cancel_scheduled=sender.cancel,
        lead_s=lead_s,
    )


def audio_frames(sender: Sender) -> list[tuple[bytes, float]]:
    return [(f, due) for f, due in sender.frames if f != OPUS_SILENCE]


async def test_pcm_becomes_one_opus_frame_per_20_ms_then_five_silence_frames() -> None:
    sender = Sender()
    pcm = bytes(range(256)) * (FRAME_BYTES * 3 // 256) + b"\x01\x00" * 100  # three frames and a bit
    await player(sender).play(pcm)
    audio = audio_frames(sender)
    assert len(audio) == 4  # the last, short frame is padded, not dropped
    assert [f for f, _ in sender.frames[4:]] == [OPUS_SILENCE] * 5 and len(sender.frames) == 9
    dues = [due for _, due in sender.frames]
    # Never bursts: each frame is due at least 20 ms after the one before (more only if the loop stalled).
    assert all(later - earlier >= FRAME_S - 1e-9 for earlier, later in itertools.pairwise(dues))
    assert sender.speaking == [True, False]


async def test_mono_is_played_as_stereo() -> None:
    sender = Sender()
    await player(sender).play(b"\x10\x00" * (FRAME_BYTES // 2), channels=1)  # one frame's bytes of mono: two frames
    assert len(audio_frames(sender)) == 2


async def test_a_stop_ends_an_endless_stream_at_once_and_drops_what_was_handed_over() -> None:
    sender = Sender()
    never = asyncio.Event()

    async def speech() -> AsyncIterator[bytes]:
        yield b"\x01\x00" * (FRAME_BYTES // 2)
        await never.wait()  # a producer still thinking
        yield b""

    def schedule_then_barge_in(frame: bytes, due: float) -> None:
        sender.schedule(frame, due)
        if frame != OPUS_SILENCE:
            voice.stop()  # someone speaks over the first frame

    voice = Player(
        lambda frame: pytest.fail("frames go through the sender"),
        sender.speaking.append,
        trailing_silence_frames=5,
        schedule=schedule_then_barge_in,
        cancel_scheduled=sender.cancel,
        lead_s=LEAD_S,
    )
    await asyncio.wait_for(voice.play(speech()), 30)
    assert len(audio_frames(sender)) == 1 and sender.cancels == 1
    assert [f for f, _ in sender.frames[1:]] == [OPUS_SILENCE] * 5
    assert sender.speaking == [True, False] and not voice.is_playing


def test_an_audio_file_is_decoded_to_48_khz_stereo() -> None:
    recording = io.BytesIO()
    with wave.open(recording, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\x00\x10" * 16_000)  # one second of mono at 16 kHz
    pcm = decode_audio(recording.getvalue())
    seconds = len(pcm) / (48_000 * 2 * 2)
    assert 0.95 <= seconds <= 1.05


async def test_a_long_send_lead_still_paces_frames() -> None:
    """Fails today: with send_lead_ms >= 200 (allowed by [voice]) every frame looks 'late' by more than _MAX_LAG_S,
    the clock restarts each frame and all frames are due at once (audio bursts)."""
    sender = Sender()
    await player(sender, lead_s=0.3).play(b"\x01\x00" * (FRAME_BYTES * 2))
    dues = [due for _, due in sender.frames]
    assert all(later - earlier >= FRAME_S - 1e-9 for earlier, later in itertools.pairwise(dues))
