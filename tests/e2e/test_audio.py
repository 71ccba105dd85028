"""Audio in Discord: voice messages and /ask audio are transcribed and answered; the answer can be spoken."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import numpy as np

from bot.metrics import Metrics
from bot.speech.transcribe import Transcriber
from tests.assets import DATA
from tests.fakes.discord import IS_VOICE_MESSAGE, FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


def silent_wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(np.zeros(int(16_000 * seconds), dtype=np.int16).tobytes())
    return out.getvalue()


async def test_a_voice_message_in_a_dm_is_transcribed_and_answered_and_can_be_corrected(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply("Mars is cold and dusty.")
    async with running_bot(discord, openai_fake, tmp_path, discord={"dm_review_guild": discord.guild_id}) as built:
        voice = discord.attachment(
            "voice-message.ogg",
            (DATA / "weather_question.ogg").read_bytes(),
            "audio/ogg",
            duration_secs=3.2,
            waveform="AAAA",
        )
        sent = discord.post_message("", guild_id=None, attachments=[voice], flags=IS_VOICE_MESSAGE)
        channel = int(sent["channel_id"])
        replies = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(channel) if m.custom_ids], timeout=60
        )
        reply = replies[0].content
        assert "Tell me about the weather on Mars." in reply and reply.endswith("Mars is cold and dusty.")
        assert openai_fake.chat_requests[-1]["messages"][-1]["content"] == "Tell me about the weather on Mars."
        answers = built.get(Metrics).registry.get_sample_value
        assert answers("teachbot_answers_total", {"route": "audio"}) == 1  # counted as audio, not as a DM
        assert answers("teachbot_answers_total", {"route": "dm"}) == 0
        # The correction form of an answer that came from audio lets the user fix the transcript.
        opened = discord.click(replies[0], replies[0].custom_ids[0])
        await opened.wait_callback()
        assert opened.modal is not None
        first = opened.modal["fields"][0]
        assert first["custom_id"] == "transcript" and first["value"] == "Tell me about the weather on Mars."


async def test_ask_with_audio_and_speak_attaches_the_spoken_answer(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply("Paris.")
    async with running_bot(discord, openai_fake, tmp_path):
        audio = discord.attachment("question.wav", (DATA / "weather_question.wav").read_bytes(), "audio/wav")
        handle = discord.slash("ask", options={"audio": audio, "speak": True})
        spoken = await handle.wait(lambda e: bool(e.files), timeout=60)
        assert handle.content.startswith("🎙️") and handle.content.endswith("Paris.")
        assert spoken.files[0].filename.endswith(".wav")
        with wave.open(io.BytesIO(spoken.files[0].data)) as w:
            assert w.getnframes() / w.getframerate() > 0.3


async def test_silence_gets_no_answer_and_bad_audio_is_refused_before_download(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, speech={"max_audio_mb": 0.05}) as built:
        del built
        quiet = discord.attachment("quiet.wav", silent_wav(2.0)[:40_000], "audio/wav")
        handle = discord.slash("ask", options={"audio": quiet})
        said = await handle.wait(lambda e: e.kind == "followup")
        assert "couldn't hear any speech" in said.json["content"]
        downloads = len(discord.file_downloads)
        text = discord.attachment("notes.txt", b"not audio at all", "text/plain")
        refused = discord.slash("ask", options={"audio": text})
        assert "not audio" in json.dumps((await refused.wait_callback()).json)
        big = discord.attachment("long.wav", silent_wav(3.0), "audio/wav")
        too_big = discord.slash("ask", options={"audio": big})
        assert "the limit is 0.05 MB" in json.dumps((await too_big.wait_callback()).json)
        assert len(discord.file_downloads) == downloads
        assert openai_fake.chat_requests == []


async def test_a_rate_limited_audio_message_costs_no_download_and_no_transcription(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply("Four.")
    async with running_bot(discord, openai_fake, tmp_path, limits={"model_calls": 1, "window_s": 600}) as built:
        transcribed: list[object] = []
        real = built.get(Transcriber).transcribe

        async def counting(*args: object, **kwargs: object) -> object:
            transcribed.append(args)
            return await real(*args, **kwargs)  # type: ignore[arg-type]

        built.get(Transcriber).transcribe = counting  # type: ignore[method-assign]
        discord.post_message("what is 2+2?", guild_id=None)
        dm = discord.dm_channel(discord.member)
        await discord.wait_for(lambda: [m for m in discord.bot_messages_in(dm) if m.custom_ids])
        voice = discord.attachment(
            "voice-message.ogg", (DATA / "weather_question.ogg").read_bytes(), "audio/ogg", duration_secs=3.2
        )
        discord.post_message("", guild_id=None, attachments=[voice], flags=IS_VOICE_MESSAGE)
        (refusal,) = await discord.wait_for(lambda: [m for m in discord.bot_messages_in(dm) if "too fast" in m.content])
        assert "Try again in" in refusal.content
        assert discord.file_downloads == [] and transcribed == []
        assert len(openai_fake.chat_requests) == 1


async def test_a_full_transcription_queue_says_busy_before_downloading(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, speech={"max_queued": 1}) as built:
        audio = discord.attachment("question.wav", (DATA / "weather_question.wav").read_bytes(), "audio/wav")
        with built.get(Transcriber).queue_place():  # someone else's audio is being transcribed
            depth = built.get(Metrics).registry.get_sample_value("teachbot_transcription_queue_depth")
            assert depth == 1
            busy = discord.slash("ask", options={"audio": audio})
            said = await busy.wait(lambda e: e.kind in ("followup", "callback") and "busy" in json.dumps(e.json))
        assert "Try again in a minute" in json.dumps(said.json)
        assert discord.file_downloads == [] and openai_fake.chat_requests == []
