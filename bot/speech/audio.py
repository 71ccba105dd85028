"""Audio from users: checked before download, decoded in-process with PyAV to 16 kHz mono float32 off the loop."""

from __future__ import annotations

import asyncio
import io
from pathlib import PurePosixPath

import attrs
import av
import av.error
import numpy as np
import numpy.typing as npt

from bot.errors import InvalidInput
from bot.i18n import _
from bot.speech.settings import SpeechSettings

Samples = npt.NDArray[np.float32]
RATE = 16_000
AUDIO_EXTENSIONS = {"ogg", "oga", "opus", "mp3", "wav", "m4a", "mp4", "webm", "flac", "aac"}


class NotAudio(InvalidInput):
    """The bytes are not audio we can decode."""


@attrs.frozen
class DecodedAudio:
    samples: Samples = attrs.field(eq=False)
    duration_s: float


def is_audio(filename: str, content_type: str | None) -> bool:
    declared = (content_type or "").split(";")[0].strip().lower()
    return declared.startswith("audio/") or PurePosixPath(filename).suffix.lower().lstrip(".") in AUDIO_EXTENSIONS


def check_upload(
    size: int, content_type: str | None, filename: str, duration_s: float | None, settings: SpeechSettings
) -> None:
    """Refuse before downloading: not audio, too big, or (when Discord says) too long."""
    if not is_audio(filename, content_type):
        raise NotAudio(_("That file is not audio (ogg, mp3, wav, m4a or webm)."))
    limit = int(settings.max_audio_mb * 1024 * 1024)
    if size > limit:
        raise InvalidInput(
            _(
                "That audio is {size} MB; the limit is {limit} MB.",
                size=f"{size / 1048576:.1f}",
                limit=f"{settings.max_audio_mb:g}",
            )
        )
    if duration_s is not None and duration_s > settings.max_duration_s:
        raise InvalidInput(
            _(
                "That audio is {duration_s} s long; the limit is {max_duration_s} s.",
                duration_s=f"{duration_s:.0f}",
                max_duration_s=f"{settings.max_duration_s:.0f}",
            )
        )


def _decode(data: bytes, rate: int, channels: int, max_duration_s: float) -> tuple[npt.NDArray[np.int16], float]:
    layout = "mono" if channels == 1 else "stereo"
    chunks: list[npt.NDArray[np.int16]] = []
    total = 0
    limit = int(max_duration_s * rate)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise NotAudio(_("That file has no audio in it."))
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1)
                    chunks.append(pcm.astype(np.int16, copy=False))
                    total += len(pcm) // channels
                    if total > limit:  # stop early: a long file is refused, not decoded to the end
                        raise InvalidInput(
                            _("That audio is longer than {max_duration_s} s.", max_duration_s=f"{max_duration_s:.0f}")
                        )
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.int16, copy=False))
    except av.error.FFmpegError as exc:
        raise NotAudio(_("That file could not be read as audio.")) from exc
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return pcm, len(pcm) / channels / rate


def decode_sync(data: bytes, settings: SpeechSettings) -> DecodedAudio:
    pcm, duration = _decode(data, RATE, 1, settings.max_duration_s)
    if duration == 0:
        raise NotAudio(_("That audio is empty."))
    return DecodedAudio((pcm.astype(np.float32) / 32768.0), duration)


async def decode(data: bytes, settings: SpeechSettings) -> DecodedAudio:
    """16 kHz mono float32, decoded in a worker thread."""
    return await asyncio.to_thread(decode_sync, data, settings)


def to_pcm48k_stereo(data: bytes, max_duration_s: float = 600.0) -> bytes:
    """Any encoded audio as s16le 48 kHz stereo, what the voice player sends. Blocking: call it in a thread."""
    pcm, _duration = _decode(data, 48_000, 2, max_duration_s)
    return pcm.tobytes()
