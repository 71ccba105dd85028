"""Speech synthesis: time to first audio and total time per engine available offline.

espeak-ng runs locally; edge-tts and the OpenAI-compatible endpoint are measured against their loopback fakes (so
their figures show the bot's own overhead: request, decode to 48 kHz PCM, not the remote service's speed).

    .venv/bin/python bench/tts.py
Last line: {"bench": "tts", "<engine>_first_ms": …, "<engine>_total_ms": …, …}
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.speech.settings import SpeechSettings
from bot.speech.tts import EdgeSpeech, EspeakSpeech, OpenAISpeech, SpeechEngine
from tests.fakes.edge_tts import FakeEdgeTTS
from tests.fakes.openai import FakeOpenAI

TEXT = "The capital of Australia is Canberra, not Sydney. It was chosen as a compromise between the two largest cities."


async def measure(engine: SpeechEngine, runs: int = 5) -> tuple[float, float, float]:
    firsts, totals, seconds = [], [], 0.0
    for _ in range(runs):
        start = time.perf_counter()
        first = None
        size = 0
        async for chunk in engine.stream_pcm48k(TEXT, "en"):
            first = first or time.perf_counter()
            size += len(chunk)
        totals.append(time.perf_counter() - start)
        firsts.append((first or time.perf_counter()) - start)
        seconds = size / (48_000 * 4)
    firsts.sort()
    totals.sort()
    return firsts[len(firsts) // 2] * 1000, totals[len(totals) // 2] * 1000, seconds


async def main() -> None:
    out: dict[str, float | str] = {"bench": "tts"}
    async with (
        FakeEdgeTTS() as edge,
        FakeOpenAI() as fake,
        openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url) as client,
    ):
        engines: list[SpeechEngine] = [
            EspeakSpeech(SpeechSettings()),
            EdgeSpeech(SpeechSettings(edge_endpoint=edge.endpoint)),
            OpenAISpeech(client, SpeechSettings()),
        ]
        for engine in engines:
            first, total, seconds = await measure(engine)
            where = "local" if engine.name == "espeak" else "loopback fake"
            print(
                f"{engine.name:>7} ({where}): first audio {first:.0f} ms, total {total:.0f} ms, {seconds:.1f} s speech"
            )
            out[f"{engine.name}_first_ms"] = round(first, 1)
            out[f"{engine.name}_total_ms"] = round(total, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
