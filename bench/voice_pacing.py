"""Voice pacing: 30 s of playback through the real driver while two speech clips transcribe in the same process.

The bot's VoiceSession plays into the loopback fake voice server; each Opus frame's send time is taken where it
leaves for the UDP socket. Meanwhile Whisper base (faster-whisper, int8) transcribes the two speech fixtures over
and over in a 2-thread pool, as the voice conversation does while the bot talks. Deviation is |interval − 20 ms|
between consecutive frames. Prints a summary and, last, one JSON line:
{"bench": "voice_pacing", "frames": …, "p50_dev_ms": …, "p99_dev_ms": …, "cpu_pct": …}

    .venv/bin/python bench/voice_pacing.py [--seconds 30] [--from-files]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import hikari
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.voice.connection import VoiceSession
from bot.voice.settings import VoiceSettings
from tests.assets import DATA, whisper_base_dir
from tests.fakes.voice import FakeVoiceServer


async def _noop_close(_connection: object) -> None:
    return None


def _transcribe_forever(model: Any, clip: Any, stop: threading.Event, done: list[str]) -> None:
    while not stop.is_set():
        segments, _ = model.transcribe(clip, language="en", beam_size=1)
        done.append(" ".join(s.text for s in segments).strip())


async def main(seconds: float, from_files: bool) -> None:
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    model = WhisperModel(str(whisper_base_dir()), device="cpu", compute_type="int8", cpu_threads=1)
    fake = FakeVoiceServer()
    await fake.start()
    voice = await VoiceSession.initialize(
        channel_id=hikari.Snowflake(2),
        endpoint=fake.endpoint,
        guild_id=hikari.Snowflake(1),
        on_close=_noop_close,
        owner=cast(Any, object()),
        session_id="bench",
        shard_id=0,
        token="bench",
        user_id=hikari.Snowflake(3),
        settings=VoiceSettings(),
    )
    rate = 48_000
    t = np.arange(int(seconds * rate)) / rate
    tone = (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)
    pcm = np.repeat(tone, 2).tobytes()

    stop = threading.Event()
    transcripts: list[str] = []
    loop = asyncio.get_running_loop()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = [DATA / "capital_of_france.wav", DATA / "weather_question.wav"]
        # The conversation hands Whisper PCM it already holds; --from-files makes Whisper decode files itself
        # (PyAV decoding holds the GIL, which shows up as pacing spikes).
        clips: list[Any] = [str(p) for p in paths] if from_files else [decode_audio(str(p)) for p in paths]
        work = [loop.run_in_executor(pool, _transcribe_forever, model, clip, stop, transcripts) for clip in clips]
        voice.sender.record_send_times = True
        await voice.player.play(pcm)
        stop.set()
        await asyncio.gather(*work)
    cpu_pct = 100 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    await voice.disconnect()
    await fake.close()

    times = np.array(voice.sender.send_times)
    deviation_ms = np.abs(np.diff(times) * 1000 - 20)
    p50, p99 = float(np.percentile(deviation_ms, 50)), float(np.percentile(deviation_ms, 99))
    print(
        f"{len(times)} frames in {times[-1] - times[0]:.2f} s; deviation from 20 ms: p50 {p50:.3f} ms, "
        f"p99 {p99:.3f} ms, max {deviation_ms.max():.3f} ms; {len(transcripts)} transcriptions "
        f"(e.g. {transcripts[0]!r}); process CPU {cpu_pct:.0f}% of one core"
    )
    print(
        json.dumps(
            {
                "bench": "voice_pacing",
                "frames": len(times),
                "p50_dev_ms": round(p50, 3),
                "p99_dev_ms": round(p99, 3),
                "cpu_pct": round(cpu_pct, 1),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--from-files", action="store_true", help="let Whisper decode the clip files each time")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.from_files))
