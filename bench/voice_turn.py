"""Latency of a voice turn: last voiced packet received → first reply packet sent, over 20 turns.

The conversation engine (bot/conversation) runs for real: Silero VAD, turn detection with speculative transcription
and the answer begun on it during the pause,
Whisper base (CPU int8, beam 1), the real Answerer over the loopback FakeOpenAI answering instantly, sentence
splitting, espeak-ng as the offline speech engine, and bot.voice's Player encoding Opus (its packets are timed at the
`send_opus` callback instead of going to a UDP socket). Audio arrives as 20 ms 48 kHz stereo frames paced in real
time, ending like a Discord client does (a few silent frames, then nothing). Whisper runs through the bot's own
Transcriber as voice rooms use it (bot/speech/transcribe.VoiceTranscription: greedy decoding, and with the
default `[conversation] short_window` the utterance-sized encoder window); espeak-ng speaks via the test doubles.

Then barge-in: while the bot speaks, a user starts talking; time from their first voiced packet to the bot's
stop() and to its last audio packet.

With `--realistic` the model and the speech engine take the time real ones take: the model streams its first token
300 ms after the request and then 60 tokens a second (a token taken as 4 characters), and speech synthesis gives
its first audio 150 ms after it is asked. The answer is then a typical model answer whose first sentence is long,
so how early speech can start matters.

Prints a breakdown and, last, one JSON line:
{"bench": "voice_turn", "turns": 20, "p50_ms": …, "p95_ms": …, ..., "realistic": false}

    .venv/bin/python bench/voice_turn.py [--turns 20] [--realistic]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.conversation.settings import ConversationSettings
from bot.conversation.turns import SilenceBegan, TurnEvent, UtteranceEnded
from bot.conversation.vad import SileroModel, level_dbfs
from bot.conversation.voice_conversation import HeardText, TurnRecord, VoiceConversation
from bot.llm.answering import Answerer, Question, Reply
from bot.speech.audio import Samples
from bot.speech.settings import SpeechSettings
from bot.speech.transcribe import Transcriber, VoiceTranscription
from bot.voice.player import OPUS_SILENCE, Player
from tests.assets import whisper_base_dir
from tests.conversation.doubles import (
    EspeakVoice,
    answering,
    load_fixture,
    to_48k_stereo_frames,
)
from tests.fakes.openai import FakeOpenAI

FRAME_S = 0.02
FIRST_TOKEN_S = 0.3
TOKENS_PER_S = 60
CHARS_PER_TOKEN = 4
FIRST_AUDIO_S = 0.15
INSTANT_ANSWER = "Mars is cold and dusty. It has two small moons."
REALISTIC_ANSWER = (
    "Mars is cold and dry, about minus sixty degrees on average, and dust storms can cover the whole planet for "
    "weeks. It has two small moons."
)
SILENT = b"\0" * 3840
# Discord clients send five frames of silence after speech, then stop sending.
TRAILING_SILENT_FRAMES = 5


class TimedPlayer:
    """bot.voice's Player with its audio packets timed; with `cut`, each answer stops after its first packet."""

    def __init__(self) -> None:
        self.player = Player(self._send, lambda _speaking: None)
        self.first_packet_at: list[float] = []
        self.last_audio_at = 0.0
        self.stop_calls: list[float] = []
        self.playing = asyncio.Event()
        self.interrupted = asyncio.Event()
        self.cut = True
        self._fresh = False

    def _send(self, packet: bytes) -> None:
        if packet == OPUS_SILENCE:
            return
        self.last_audio_at = time.monotonic()
        if self._fresh:
            self._fresh = False
            self.first_packet_at.append(self.last_audio_at)
            self.playing.set()
            if self.cut:
                self.player.stop()

    async def play(self, pcm: AsyncIterator[bytes], /) -> None:
        self._fresh = True
        try:
            await self.player.play(pcm)
        finally:
            self.playing.clear()

    def stop(self) -> None:
        if self.player.is_playing:
            self.stop_calls.append(time.monotonic())
            self.interrupted.set()
        self.player.stop()


class Trace:
    """When each step of the critical path happened (monotonic), for the breakdown: the last of each kind counts."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []

    def mark(self, name: str) -> None:
        self.events.append((time.monotonic(), name))

    def last_before(self, start: float, end: float) -> dict[str, float]:
        found: dict[str, float] = {}
        for at, name in self.events:
            if start <= at <= end:
                found[name] = at
        return found


TRACE = Trace()
# The steps in the order of the critical path of an answer begun in the pause.
TRACE_STEPS = {
    "pause_seen": "the pause noticed: speculative transcription asked",
    "whisper_start": "Whisper starts (the last transcription before the reply)",
    "whisper_end": "Whisper's transcript",
    "ask": "the answer begun (Answerer.begin)",
    "model_request": "the request reaches the model",
    "first_token": "the model's first token",
    "tts_ask": "the first phrase given to speech synthesis",
    "first_audio": "its first audio",
    "confirmed": "the end of speech confirmed (the pause)",
    "first_packet": "the first reply packet sent",
}


class TracedConversation(VoiceConversation):
    def _handle(self, events: list[TurnEvent]) -> None:
        for event in events:
            if isinstance(event, SilenceBegan):
                TRACE.mark("pause_seen")
            elif isinstance(event, UtteranceEnded):
                TRACE.mark("confirmed")
        super()._handle(events)


class TracedWhisper:
    def __init__(self, whisper: VoiceTranscription) -> None:
        self._whisper = whisper

    async def transcribe(self, samples: Samples, /, language: str | None = None) -> HeardText:
        TRACE.mark("whisper_start")
        heard = await self._whisper.transcribe(samples, language)
        TRACE.mark("whisper_end")
        return heard


class TracedAnswerer:
    def __init__(self, answerer: Answerer) -> None:
        self._answerer = answerer

    async def admit(self, user_id: int) -> None:
        await self._answerer.admit(user_id)

    async def give_back(self, user_id: int) -> None:
        await self._answerer.give_back(user_id)

    async def begin(self, question: Question) -> Reply:
        TRACE.mark("ask")
        return await self._answerer.begin(question)


class SlowVoice(EspeakVoice):
    """espeak-ng, with its first audio no sooner than FIRST_AUDIO_S after being asked (a real TTS service's delay)."""

    async def stream_pcm48k(self, text: str, language: str | None) -> AsyncIterator[bytes]:
        asked = time.monotonic()
        TRACE.mark("tts_ask")
        first = True
        async for chunk in super().stream_pcm48k(text, language):
            if first:
                first = False
                await asyncio.sleep(max(0.0, asked + FIRST_AUDIO_S - time.monotonic()))
            yield chunk


def speech_frames(name: str) -> tuple[list[bytes], int]:
    """The fixture as received frames, cut after its last voiced frame; and that frame's index."""
    samples = load_fixture(name)
    voiced = [i for i in range(0, len(samples) - 319, 320) if level_dbfs(samples[i : i + 320]) > -40.0]
    last = voiced[-1] // 320
    frames = to_48k_stereo_frames(samples[: (last + 1) * 320])
    return frames + [SILENT] * TRAILING_SILENT_FRAMES, last


async def deliver(conversation: VoiceConversation, user_id: int, frames: list[bytes], mark: int) -> float:
    """Sends frames in real time; returns when frame `mark` arrived."""
    start = time.monotonic()
    marked = start
    for i, frame in enumerate(frames):
        due = start + (i + 1) * FRAME_S
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        now = time.monotonic()
        conversation.hear(user_id, frame, now)
        if i == mark:
            marked = now
    return marked


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def main(turns: int, speculative_ms: int | None, short_window: bool, realistic: bool) -> None:
    speech_settings = SpeechSettings(cpu_threads=2)
    transcriber = Transcriber(speech_settings, str(whisper_base_dir()))
    whisper = VoiceTranscription(transcriber, short_window=short_window)
    vad = SileroModel()
    settings = ConversationSettings(language="en")
    if speculative_ms is not None:
        settings = attrs.evolve(settings, speculative_transcription_ms=speculative_ms)
    records: asyncio.Queue[TurnRecord] = asyncio.Queue()
    fixtures = {name: speech_frames(name) for name in ("weather_question", "capital_of_france")}
    # Warm up Whisper and the VAD so the first turn measures the steady state.
    await whisper.transcribe(load_fixture("weather_question"), "en")
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeOpenAI() as fake, answering(fake, Path(tmp) / "bench.sqlite3") as (answerer, _):
            answer = REALISTIC_ANSWER if realistic else INSTANT_ANSWER
            fake.default_reply = lambda _body: answer
            if realistic:
                fake.stream_chunk_chars = CHARS_PER_TOKEN
                fake.chunk_delay_s = 1 / TOKENS_PER_S
                # The request waits before its first token; every chat request of the run (barge-in's included).
                fake.delay_next(FIRST_TOKEN_S - 1 / TOKENS_PER_S, times=10_000, path_prefix="/chat")
            speaker = TimedPlayer()
            conversation = TracedConversation(
                guild_id=1,
                channel_id=2,
                settings=settings,
                vad_model=vad,
                transcriber=TracedWhisper(whisper),
                transcription_slots=asyncio.Semaphore(1),
                answerer=TracedAnswerer(answerer),
                voice=SlowVoice() if realistic else EspeakVoice(),
                speaker=speaker,
                on_turn=records.put,
            )
            conversation.start()
            path: dict[str, list[float]] = {}
            for n in range(turns):
                frames, last = fixtures["weather_question" if n % 2 == 0 else "capital_of_france"]
                before = len(speaker.first_packet_at)
                turn_started = time.monotonic()
                last_voiced = await deliver(conversation, 100 + n % 3, frames, last)
                record = await asyncio.wait_for(records.get(), 60)
                if len(speaker.first_packet_at) == before:
                    print(f"turn {n}: nothing was spoken ({record.transcript!r})")
                    continue
                total = (speaker.first_packet_at[-1] - last_voiced) * 1000
                totals.append(total)
                steps = TRACE.last_before(turn_started, speaker.first_packet_at[-1])
                steps["model_request"] = max(
                    (at for _, p, at in fake.requests if p.startswith("/chat") and at <= speaker.first_packet_at[-1]),
                    default=0.0,
                )
                steps["first_packet"] = speaker.first_packet_at[-1]
                t = record.timings
                if t.first_token_ms is not None:
                    steps["first_token"] = last_voiced + t.first_token_ms / 1000
                if t.first_audio_ms is not None:
                    steps["first_audio"] = last_voiced + t.first_audio_ms / 1000
                for step in TRACE_STEPS:
                    if steps.get(step, 0.0) >= turn_started:
                        path.setdefault(step, []).append((steps[step] - last_voiced) * 1000)
                marks = {
                    "end_of_speech": t.end_of_speech_ms,
                    "transcribed": t.transcribed_ms,
                    "first_token": t.first_token_ms,
                    "first_audio": t.first_audio_ms,
                    "first_packet": t.first_packet_ms,
                }
                # Marks, not stages: with an early answer the transcript and first token come before the end of speech.
                for stage, at in marks.items():
                    if at is not None:
                        stages.setdefault(stage, []).append(at)
                stages.setdefault("whisper_compute", []).append(t.transcription_ms or 0.0)
                stages.setdefault("speculative", []).append(1.0 if t.speculative else 0.0)
                stages.setdefault("early_answer", []).append(1.0 if t.early_answer else 0.0)
                print(
                    f"turn {n:2d}: {total:6.0f} ms  heard {record.transcript!r}  "
                    + " ".join(f"{k}={v}" for k, v in marks.items())
                )

            # Barge-in: the bot reads a long answer in real time; a user talks over it.
            long_answer = " ".join(f"Sentence {i} of a long answer." for i in range(30))
            speaker.cut = False
            barge: list[float] = []
            silenced: list[float] = []
            frames, _ = fixtures["weather_question"]
            first_voiced = next(
                i
                for i, f in enumerate(frames)
                if level_dbfs((np.frombuffer(f, "<i2") / 32768).astype(np.float32)) > -40
            )
            for _ in range(5):
                fake.reply(long_answer, "Mars is cold.")
                await deliver(conversation, 200, *fixtures["capital_of_france"])
                await asyncio.wait_for(speaker.playing.wait(), 30)
                speaker.interrupted.clear()
                talking = asyncio.create_task(deliver(conversation, 201, frames, first_voiced))
                await asyncio.wait_for(speaker.interrupted.wait(), 30)
                first_voiced_at = await talking
                barge.append((speaker.stop_calls[-1] - first_voiced_at) * 1000)
                await asyncio.wait_for(records.get(), 60)  # the interrupted turn
                silenced.append((speaker.last_audio_at - first_voiced_at) * 1000)
                await asyncio.wait_for(records.get(), 60)  # the interrupting question, answered
                await conversation.wait_idle()
            await conversation.close()
    transcriber.close()

    print()
    print("critical path, p50 ms after the last voiced packet (step: time since the step before)")
    previous = 0.0
    for step, what in TRACE_STEPS.items():
        if step in path:
            at = statistics.median(path[step])
            print(f"  {step:<14}{at:7.0f}  (+{at - previous:4.0f})  {what}  [{len(path[step])} turns]")
            previous = at
    print()
    print(f"{'mark (ms)':<18}{'p50':>8}{'p95':>8}   (after the last voiced audio; whisper_compute: Whisper's own time)")
    for stage, values in stages.items():
        if stage in ("speculative", "early_answer"):
            continue
        print(f"{stage:<18}{pct(values, 50):8.0f}{pct(values, 95):8.0f}")
    spec = stages.get("speculative", [])
    early = stages.get("early_answer", [])
    print(f"final transcript started during the pause (speculatively) in {sum(spec):.0f}/{len(spec)} turns")
    print(f"answer begun during the pause and kept in {sum(early):.0f}/{len(early)} turns")
    print(f"barge-in: first voiced packet → stop(): {', '.join(f'{b:.0f}' for b in barge)} ms")
    print(f"barge-in: first voiced packet → last audio packet sent: {', '.join(f'{b:.0f}' for b in silenced)} ms")
    print(f"last voiced packet → first reply packet: p50 {pct(totals, 50):.0f} ms, p95 {pct(totals, 95):.0f} ms")
    print(
        json.dumps(
            {
                "bench": "voice_turn",
                "turns": len(totals),
                "p50_ms": round(pct(totals, 50), 1),
                "p95_ms": round(pct(totals, 95), 1),
                "barge_in_stop_p50_ms": round(statistics.median(barge), 1),
                "barge_in_silent_p50_ms": round(statistics.median(silenced), 1),
                "early_answers": int(sum(early)),
                "whisper_window": "utterance+1s" if short_window else "30s",
                "realistic": realistic,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--speculative-ms", type=int, default=None, help="override the setting's default")
    parser.add_argument(
        "--full-window", action="store_true", help="faster-whisper's 30 s encoder window instead of the short one"
    )
    parser.add_argument(
        "--realistic", action="store_true", help="a model with 300 ms to first token at 60 tokens/s, TTS 150 ms"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(args.turns, args.speculative_ms, not args.full_window, args.realistic))
