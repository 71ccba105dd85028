"""Decoding uploads and voice messages to 16 kHz mono, and refusing what is not audio or is too big or too long."""

from __future__ import annotations

import io

import numpy as np
import pytest

from bot.errors import InvalidInput
from bot.speech.audio import NotAudio, check_upload, decode
from bot.speech.settings import SpeechSettings
from tests.assets import DATA

SETTINGS = SpeechSettings()


async def test_voice_message_ogg_and_wav_decode_to_16k_mono() -> None:
    ogg = await decode((DATA / "weather_question.ogg").read_bytes(), SETTINGS)
    wav = await decode((DATA / "weather_question.wav").read_bytes(), SETTINGS)
    assert ogg.samples.dtype == np.float32 and abs(ogg.duration_s - wav.duration_s) < 0.1
    assert 2.0 < ogg.duration_s < 5.0


async def test_non_audio_and_oversized_or_too_long_audio_are_refused() -> None:
    with pytest.raises(NotAudio, match="could not be read as audio"):
        await decode(b"this is plainly text, not audio" * 10, SETTINGS)
    with pytest.raises(NotAudio, match="not audio"):
        check_upload(100, "image/png", "cat.png", None, SETTINGS)
    with pytest.raises(InvalidInput, match="the limit is 25 MB"):
        check_upload(30 * 1024 * 1024, "audio/ogg", "voice-message.ogg", 10.0, SETTINGS)
    with pytest.raises(InvalidInput, match="limit is 300 s"):
        check_upload(1000, "audio/ogg", "voice-message.ogg", 301.0, SETTINGS)
    with pytest.raises(InvalidInput, match="longer than 1 s"):
        await decode((DATA / "weather_question.ogg").read_bytes(), SpeechSettings(max_duration_s=1.0))


def _encode(pcm16k: np.ndarray, fmt: str, codec: str) -> bytes:
    """The fixture re-encoded in another container, as users upload it (mp3, m4a, webm)."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=48_000, layout="mono")
        assert isinstance(stream, av.AudioStream)
        pcm = (np.repeat(pcm16k, 3) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 48_000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "codec"), [("mp3", "libmp3lame"), ("mp4", "aac"), ("webm", "libopus")])
async def test_mp3_m4a_and_webm_uploads_decode_to_the_same_audio(fmt: str, codec: str) -> None:
    original = await decode((DATA / "weather_question.wav").read_bytes(), SETTINGS)
    encoded = _encode(original.samples, fmt, codec)
    decoded = await decode(encoded, SETTINGS)
    assert abs(decoded.duration_s - original.duration_s) < 0.15
    assert float(np.sqrt(np.mean(decoded.samples**2))) > 0.5 * float(np.sqrt(np.mean(original.samples**2)))
