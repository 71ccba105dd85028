"""Plays audio into a voice session as paced 20 ms Opus frames; `stop()` interrupts within one frame (barge-in).

Accepts raw s16le 48 kHz PCM (stereo or mono) as bytes, a numpy array or an async iterator of chunks, and encoded
audio files (any format PyAV reads), decoded off the event loop. Frames are sent on an absolute 20 ms schedule so
small scheduling delays do not accumulate (clock-drift correction); after audio ends or is stopped, a few Opus
silence frames are sent so listeners' decoders do not smear the cut.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

import av
import numpy as np
import numpy.typing as npt

_log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz
FRAME_BYTES = FRAME_SAMPLES * 2 * 2  # stereo s16
FRAME_S = 0.02
OPUS_SILENCE = b"\xf8\xff\xfe"
# Falling this far behind the schedule (a stalled loop) restarts it instead of bursting frames to catch up.
_MAX_LAG_S = 0.2

PcmSource = bytes | bytearray | memoryview | npt.NDArray[np.int16] | AsyncIterable[bytes]


def decode_audio(data: bytes) -> bytes:
    """Any encoded audio (Ogg/Opus, WAV, MP3, ...) → s16le 48 kHz stereo PCM. Blocking: run it in a thread."""
    import io

    out: list[bytes] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE)
        frames: list[av.AudioFrame | None] = [*container.decode(audio=0), None]
        for frame in frames:
            for resampled in resampler.resample(frame):
                out.append(resampled.to_ndarray().tobytes())
    return b"".join(out)


def mono_to_stereo(pcm: bytes) -> bytes:
    samples = np.frombuffer(pcm, dtype=np.int16)
    return np.repeat(samples, 2).tobytes()


class OpusEncoder:
    """20 ms stereo s16 PCM frames → Opus packets (libopus via PyAV)."""

    def __init__(self, bitrate: int = 64_000) -> None:
        codec = av.CodecContext.create("libopus", "w")
        assert isinstance(codec, av.AudioCodecContext)
        codec.sample_rate = SAMPLE_RATE
        codec.layout = "stereo"
        codec.format = "s16"
        codec.bit_rate = bitrate
        codec.open()
        self._codec = codec
        self._pts = 0

    def encode(self, frame: bytes) -> list[bytes]:
        if len(frame) < FRAME_BYTES:
            frame = frame + bytes(FRAME_BYTES - len(frame))
        audio = av.AudioFrame.from_ndarray(
            np.frombuffer(frame, dtype=np.int16).reshape(1, -1), format="s16", layout="stereo"
        )
        audio.sample_rate = SAMPLE_RATE
        audio.pts = self._pts
        self._pts += FRAME_SAMPLES
        packets: list[Any] = self._codec.encode(audio)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return [bytes(packet) for packet in packets]


async def _chunks(source: PcmSource, channels: int) -> AsyncIterator[bytes]:
    if isinstance(source, AsyncIterable):
        async for chunk in source:
            yield mono_to_stereo(chunk) if channels == 1 else bytes(chunk)
        return
    raw = source.tobytes() if isinstance(source, np.ndarray) else bytes(source)
    yield mono_to_stereo(raw) if channels == 1 else raw


class Player:
    """One voice session's audio output. `send_opus(frame)` puts one Opus frame on the wire; `set_speaking` flags."""

    def __init__(
        self,
        send_opus: Callable[[bytes], None],
        set_speaking: Callable[[bool], None],
        trailing_silence_frames: int = 5,
        *,
        schedule: Callable[[bytes, float], None] | None = None,
        cancel_scheduled: Callable[[], None] | None = None,
        lead_s: float = 0.0,
    ) -> None:
        # With `schedule`, frames are handed over `lead_s` early with their due time (monotonic clock) to a sender
        # that keeps the cadence off the event loop; `cancel_scheduled` drops what was handed over (barge-in).
        self._send_opus = send_opus
        self._schedule = schedule
        self._cancel_scheduled = cancel_scheduled
        self._lead_s = lead_s if schedule is not None else 0.0
        self._set_speaking = set_speaking
        self._trailing = trailing_silence_frames
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._encoder: OpusEncoder | None = None
        self.frames_sent = 0
        self.send_times: list[float] = []
        self.record_send_times = False
        self.is_playing = False

    def stop(self) -> None:
        """Stop what is playing now; the current `play` returns after at most one more frame time."""
        self._stop.set()
        if self._cancel_scheduled is not None:
            self._cancel_scheduled()

    async def play_encoded(self, data: bytes) -> None:
        """Decode an audio file (off the event loop) and play it."""
        pcm = await asyncio.to_thread(decode_audio, data)
        await self.play(pcm)

    async def play(self, source: PcmSource, *, channels: int = 2) -> None:
        """Play s16le 48 kHz PCM; returns when it ends or `stop()` is called. A new play waits for the previous."""
        async with self._lock:
            self._stop.clear()
            if self._encoder is None:
                self._encoder = OpusEncoder()
            self.is_playing = True
            self._set_speaking(True)
            try:
                await self._pace(_chunks(source, channels))
            finally:
                self.is_playing = False
                self._set_speaking(False)

    async def _pace(self, chunks: AsyncIterator[bytes]) -> None:
        loop = asyncio.get_running_loop()
        assert self._encoder is not None
        encoder = self._encoder
        start = loop.time()
        sent = 0
        pending = b""
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            exhausted = False
            while not self._stop.is_set():
                while len(pending) < FRAME_BYTES and not exhausted:
                    getter = asyncio.ensure_future(anext(chunks, None))
                    await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        return
                    chunk = getter.result()
                    if chunk is None:
                        exhausted = True
                    else:
                        pending += chunk
                        if sent == 0 and len(pending) >= FRAME_BYTES:
                            start = loop.time()
                    if loop.time() - (start + sent * FRAME_S) > _MAX_LAG_S:
                        # The producer was slow (e.g. TTS still speaking): restart the clock instead of bursting.
                        start = loop.time() - sent * FRAME_S
                if not pending:
                    return
                frame, pending = pending[:FRAME_BYTES], pending[FRAME_BYTES:]
                due = start + sent * FRAME_S
                delay = due - self._lead_s - loop.time()
                if delay > 0:
                    try:
                        await asyncio.wait_for(asyncio.shield(stopper), delay)
                        return
                    except TimeoutError:
                        pass
                elif loop.time() - due > _MAX_LAG_S:  # late by its due time, not by when it is handed over
                    start = loop.time() - sent * FRAME_S
                    due = loop.time()
                for packet in encoder.encode(frame):
                    self._emit(packet, loop, due)
                sent += 1
        finally:
            stopper.cancel()
            # After a stop the queued audio was dropped, so silence follows at once rather than after the lead.
            await self._silence(loop, loop.time() if self._stop.is_set() else start + sent * FRAME_S)

    def _emit(self, packet: bytes, loop: asyncio.AbstractEventLoop, due: float) -> None:
        if self._schedule is not None:
            self._schedule(packet, due)
        else:
            self._send_opus(packet)
            if self.record_send_times:
                self.send_times.append(loop.time())
        self.frames_sent += 1

    async def _silence(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        due = max(due, loop.time())
        for _ in range(self._trailing):
            delay = due - self._lead_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._schedule is not None:
                self._schedule(OPUS_SILENCE, max(due, loop.time()))
            else:
                self._send_opus(OPUS_SILENCE)
            due = max(due, loop.time()) + FRAME_S
        # Speaking ends once the last silence frame has actually left.
        remaining = due - FRAME_S + 0.005 - loop.time()
        if self._schedule is not None and remaining > 0:
            await asyncio.sleep(remaining)
