"""Speech recognition speed: real-time factor on 5, 15 and 60 s clips (cold and warm), and the event loop's worst lag
while 4 clips transcribe at once through the bot's Transcriber.

    .venv/bin/python bench/stt.py

Clips are the committed espeak-ng fixtures repeated to length; Whisper base from PyPI (tests/assets.py), CPU int8.
Last line: {"bench": "stt", "rtf_5s": …, "rtf_15s": …, "rtf_60s": …, "loop_lag_max_ms": …}
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.speech.audio import decode_sync
from bot.speech.settings import SpeechSettings
from bot.speech.transcribe import Transcriber
from tests.assets import DATA, whisper_base_dir


def clip(seconds: float) -> np.ndarray:
    settings = SpeechSettings()
    parts = [
        decode_sync((DATA / n).read_bytes(), settings).samples
        for n in ("weather_question.ogg", "capital_of_france.ogg")
    ]
    gap = np.zeros(8000, dtype=np.float32)
    out: list[np.ndarray] = []
    total = 0
    while total < seconds * 16_000:
        for p in parts:
            out += [p, gap]
            total += len(p) + len(gap)
    return np.concatenate(out)[: int(seconds * 16_000)]


async def loop_lag_while(work: asyncio.Future[object]) -> float:
    """The largest delay of a 10 ms timer on the event loop while `work` runs."""
    worst = 0.0
    while not work.done():
        start = time.perf_counter()
        await asyncio.sleep(0.01)
        worst = max(worst, time.perf_counter() - start - 0.01)
    return worst * 1000


async def main() -> None:
    settings = SpeechSettings(max_duration_s=120, max_concurrent=1)
    transcriber = Transcriber(settings, str(whisper_base_dir()))
    results: dict[str, float] = {}
    try:
        for seconds in (5, 15, 60):
            samples = clip(seconds)
            fresh = Transcriber(settings, str(whisper_base_dir())) if seconds == 5 else transcriber
            start = time.perf_counter()
            await fresh.transcribe(samples, "en")
            cold = (time.perf_counter() - start) / seconds
            start = time.perf_counter()
            text = (await fresh.transcribe(samples, "en")).text
            warm = (time.perf_counter() - start) / seconds
            if fresh is not transcriber:
                fresh.close()
            results[f"rtf_{seconds}s"] = round(warm, 3)
            first = "cold, with model load" if seconds == 5 else "first run"
            print(f"{seconds:>3} s clip: RTF {first} {cold:.3f}, warm {warm:.3f}; heard {len(text.split())} words")
        samples = clip(15)
        work = asyncio.gather(*(transcriber.transcribe(samples, "en") for _ in range(4)))
        lag = await loop_lag_while(work)
        await work
        print(f"4 x 15 s clips at once (bounded pool, {settings.max_concurrent} at a time): loop lag max {lag:.1f} ms")
    finally:
        transcriber.close()
    print(json.dumps({"bench": "stt", **results, "loop_lag_max_ms": round(lag, 1)}))


if __name__ == "__main__":
    asyncio.run(main())
