"""Received voice: per-speaker jitter buffer, transport then DAVE decryption, Opus decode, per-user PCM streams.

Each speaker (an RTP ssrc, mapped to a user by SPEAKING) gets a small reorder buffer: frames are released in
sequence order; a gap is concealed (the last frame at half volume, then silence) once enough later frames are
waiting or the speaker goes quiet. Padding-only packets (Discord sends them at DTX boundaries) fill their place in the
sequence without being audio or loss. Packets that fail transport or DAVE decryption are dropped and counted, never
decoded as audio; a frame the Opus decoder rejects is counted and concealed like a lost one, and no packet can stop
the receiver for anyone else. All queues are bounded: when a consumer falls behind, its oldest frames are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

import attrs
import av
import numpy as np

from bot.voice.transport import OPUS_PAYLOAD_TYPE, RtpPacket, TransportCipher, UndecryptablePacket

_log = logging.getLogger(__name__)

_FRAME_BYTES = 960 * 2 * 2
_SILENT_FRAME = bytes(_FRAME_BYTES)
# Longer gaps than this (frames) are a resynchronisation, not loss to conceal.
_MAX_CONCEALED = 10


@attrs.frozen
class HeardFrame:
    """20 ms of one user's voice: s16le 48 kHz stereo PCM; `t` is arrival on the monotonic clock."""

    user_id: int
    pcm: bytes
    t: float
    rtp_timestamp: int
    concealed: bool = False


@attrs.frozen
class SpeakingChange:
    """A user started (`speaking=True`) or stopped sending audio."""

    user_id: int
    speaking: bool
    t: float


@attrs.define
class ReceiverStats:
    packets: int = 0
    decrypt_failures: int = 0
    dave_failures: int = 0
    unknown_speaker: int = 0
    late_or_duplicate: int = 0
    concealed: int = 0
    overflow_dropped: int = 0
    frames_delivered: int = 0
    # Packets that are not Opus audio (not RTP version 2, other payload types, empty after padding): ignored.
    not_audio: int = 0
    # Frames the Opus decoder rejected (concealed like lost ones).
    decode_errors: int = 0
    # Packets or ticks that failed in an unexpected way (dropped; the receiver goes on).
    receive_errors: int = 0


def _opus_decoder() -> av.AudioCodecContext:
    decoder = av.CodecContext.create("opus", "r")
    assert isinstance(decoder, av.AudioCodecContext)
    decoder.sample_rate = 48_000
    decoder.layout = "stereo"
    decoder.open()
    return decoder


class _Speaker:
    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.buffer: dict[int, RtpPacket] = {}
        self.next_seq: int | None = None
        self.last_pcm = _SILENT_FRAME
        self.last_heard = 0.0
        self.speaking = False
        self.decoder = _opus_decoder()

    def reset_decoder(self) -> None:
        """After a rejected frame: a new decoder, so nothing of the bad frame lingers in the next ones."""
        self.decoder = _opus_decoder()

    def decode(self, opus: bytes) -> bytes:
        out: list[bytes] = []
        frames: list[av.AudioFrame] = self.decoder.decode(av.Packet(opus))  # pyright: ignore[reportUnknownMemberType]
        for frame in frames:
            samples = frame.to_ndarray()
            if samples.ndim == 2 and samples.shape[0] == 2:  # planar float → interleaved s16
                samples = samples.T.reshape(-1)
            out.append((np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16).tobytes())
        return b"".join(out)


class Receiver:
    """Turns UDP payloads into per-user PCM streams. Fed by the voice session."""

    def __init__(
        self,
        jitter_frames: int = 3,
        max_queued_frames: int = 250,
        speaker_idle_ms: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jitter = jitter_frames
        self._max_queued = max_queued_frames
        self._idle_s = speaker_idle_ms / 1000
        self._clock = clock
        self.stats = ReceiverStats()
        self.ssrc_users: dict[int, int] = {}
        self._speakers: dict[int, _Speaker] = {}
        self._all: deque[HeardFrame] = deque(maxlen=max_queued_frames)
        self._per_user: dict[int, deque[HeardFrame]] = {}
        self._events: deque[SpeakingChange] = deque(maxlen=max_queued_frames)
        self._wake = asyncio.Event()
        self._closed = False
        self.cipher: TransportCipher | None = None
        self.dave_decrypt: Callable[[int, bytes], bytes] | None = None

    # ---- fed by the session ----
    def map_ssrc(self, ssrc: int, user_id: int) -> None:
        self.ssrc_users[ssrc] = user_id

    def user_left(self, user_id: int) -> None:
        for ssrc, user in list(self.ssrc_users.items()):
            if user == user_id:
                speaker = self._speakers.pop(ssrc, None)
                if speaker is not None:
                    self._flush(speaker)
                    self._set_speaking(speaker, False)
                del self.ssrc_users[ssrc]

    def datagram(self, data: bytes) -> None:
        try:
            self._datagram(data)
        except Exception:
            # One packet must not stop anyone from being heard: drop it, say so, go on.
            self.stats.receive_errors += 1
            _log.warning("voice: a received packet could not be handled; dropped", exc_info=True)

    def _datagram(self, data: bytes) -> None:
        if len(data) < 12 or 200 <= data[1] <= 204:  # RTCP reports and keepalive echoes share the socket
            return
        if self.cipher is None:
            return
        self.stats.packets += 1
        if data[0] >> 6 != 2 or data[1] & 0x7F != OPUS_PAYLOAD_TYPE:
            self.stats.not_audio += 1
            return
        try:
            packet = self.cipher.open(data)
        except UndecryptablePacket:
            self.stats.decrypt_failures += 1
            return
        user_id = self.ssrc_users.get(packet.ssrc)
        if not packet.payload:
            self.stats.not_audio += 1
            speaker = self._speakers.get(packet.ssrc)
            if speaker is not None and speaker.user_id == user_id and (speaker.next_seq is not None or speaker.buffer):
                # Padding only, at a DTX boundary: it holds its place in the sequence so nothing is concealed for it.
                self._insert(speaker, packet, audio=False)
            return
        if user_id is None:
            self.stats.unknown_speaker += 1
            return
        if self.dave_decrypt is not None:
            try:
                packet = attrs.evolve(packet, payload=self.dave_decrypt(user_id, packet.payload))
            except Exception:
                self.stats.dave_failures += 1
                return
        speaker = self._speakers.get(packet.ssrc)
        if speaker is None or speaker.user_id != user_id:
            speaker = self._speakers[packet.ssrc] = _Speaker(user_id)
        self._insert(speaker, packet)

    def _insert(self, speaker: _Speaker, packet: RtpPacket, audio: bool = True) -> None:
        if audio:
            speaker.last_heard = self._clock()
            self._set_speaking(speaker, True)
        if speaker.next_seq is not None and ((packet.sequence - speaker.next_seq) & 0xFFFF) >= 0x8000:
            self.stats.late_or_duplicate += 1
            return
        if packet.sequence in speaker.buffer:
            self.stats.late_or_duplicate += 1
            return
        speaker.buffer[packet.sequence] = packet
        if speaker.next_seq is None:
            if len(speaker.buffer) < self._jitter:
                return
            speaker.next_seq = self._earliest(speaker)
        self._release(speaker, force=False)

    def _earliest(self, speaker: _Speaker) -> int:
        base = next(iter(speaker.buffer))
        return min(speaker.buffer, key=lambda seq: (seq - base + 0x8000) & 0xFFFF)

    def _release(self, speaker: _Speaker, force: bool) -> None:
        while speaker.buffer:
            assert speaker.next_seq is not None
            packet = speaker.buffer.pop(speaker.next_seq, None)
            if packet is not None:
                if packet.payload:  # (padding-only packets hold a place and play nothing)
                    self._play(speaker, packet)
            elif (gap := (self._earliest(speaker) - speaker.next_seq) & 0xFFFF) > _MAX_CONCEALED:
                # A jump (the sender restarted or skipped ahead): resynchronise instead of inventing audio for it.
                speaker.next_seq = (speaker.next_seq + gap) & 0xFFFF
                continue
            elif force or len(speaker.buffer) >= self._jitter:
                self._conceal(speaker)
            else:
                return
            speaker.next_seq = (speaker.next_seq + 1) & 0xFFFF

    def _play(self, speaker: _Speaker, packet: RtpPacket) -> None:
        try:
            pcm = speaker.decode(packet.payload)
        except Exception as exc:  # PyAV raises its own InvalidDataError family for a corrupt frame
            self.stats.decode_errors += 1
            _log.debug("voice: Opus frame from user %s rejected (%s); concealed", speaker.user_id, exc)
            speaker.reset_decoder()
            self._conceal(speaker)
            return
        speaker.last_pcm = pcm
        self._deliver(HeardFrame(speaker.user_id, pcm, self._clock(), packet.timestamp))

    def _conceal(self, speaker: _Speaker) -> None:
        # Lost: a faded copy of the previous frame, then silence if the loss continues.
        faded = (np.frombuffer(speaker.last_pcm, dtype=np.int16) // 2).astype(np.int16).tobytes()
        speaker.last_pcm = faded if any(faded[:64]) else _SILENT_FRAME
        self.stats.concealed += 1
        self._deliver(HeardFrame(speaker.user_id, faded, self._clock(), 0, concealed=True))

    def _flush(self, speaker: _Speaker) -> None:
        if speaker.buffer:
            if speaker.next_seq is None:
                speaker.next_seq = self._earliest(speaker)
            self._release(speaker, force=True)
        speaker.next_seq = None

    def tick(self) -> None:
        """Flush speakers that went quiet (the session calls this every few frames)."""
        now = self._clock()
        for speaker in list(self._speakers.values()):
            if speaker.speaking and now - speaker.last_heard >= self._idle_s:
                try:
                    self._flush(speaker)
                except Exception:
                    # This speaker's held frames are lost; the others still go idle and get flushed.
                    speaker.buffer.clear()
                    speaker.next_seq = None
                    self.stats.receive_errors += 1
                    _log.warning("voice: flushing user %s failed; dropped", speaker.user_id, exc_info=True)
                self._set_speaking(speaker, False)

    def _set_speaking(self, speaker: _Speaker, speaking: bool) -> None:
        if speaker.speaking != speaking:
            speaker.speaking = speaking
            self._events.append(SpeakingChange(speaker.user_id, speaking, self._clock()))
            self._wake.set()

    def _deliver(self, frame: HeardFrame) -> None:
        self.stats.frames_delivered += 1
        if len(self._all) == self._max_queued:
            self.stats.overflow_dropped += 1
        self._all.append(frame)
        queue = self._per_user.get(frame.user_id)
        if queue is not None:
            queue.append(frame)
        self._wake.set()

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    # ---- read by consumers ----
    async def _drain(self, queue: deque[HeardFrame] | deque[SpeakingChange]) -> AsyncIterator[object]:
        while True:
            while queue:
                yield queue.popleft()
            if self._closed:
                return
            self._wake.clear()
            await self._wake.wait()

    async def frames(self) -> AsyncIterator[HeardFrame]:
        """Every user's frames, in arrival order (one reader)."""
        async for item in self._drain(self._all):
            assert isinstance(item, HeardFrame)
            yield item

    async def heard(self) -> AsyncIterator[tuple[int, bytes, float]]:
        """(user id, pcm, t) as bot.conversation's VoiceConversation.run expects."""
        async for frame in self.frames():
            yield frame.user_id, frame.pcm, frame.t

    async def stream(self, user_id: int) -> AsyncIterator[HeardFrame]:
        """One user's frames from now on (bounded; the oldest are dropped if the reader falls behind)."""
        queue: deque[HeardFrame] = self._per_user.setdefault(user_id, deque(maxlen=self._max_queued))
        try:
            async for item in self._drain(queue):
                assert isinstance(item, HeardFrame)
                yield item
        finally:
            self._per_user.pop(user_id, None)

    async def speaking_changes(self) -> AsyncIterator[SpeakingChange]:
        async for item in self._drain(self._events):
            assert isinstance(item, SpeakingChange)
            yield item

    @property
    def heard_users(self) -> list[int]:
        """Users whose audio is arriving now."""
        return sorted({s.user_id for s in self._speakers.values() if s.speaking})
