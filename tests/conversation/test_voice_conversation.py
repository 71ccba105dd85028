"""Whole voice turns through VoiceConversation: real Silero VAD, real Whisper base, the real Answerer over the loopback
FakeOpenAI, espeak-ng speech, and a speaker that plays in real time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import av
import numpy as np
import pytest

from bot.conversation.settings import AddressingMode, ConversationSettings
from bot.conversation.vad import SileroModel
from bot.conversation.voice_conversation import TurnRecord, VoiceConversation
from bot.speech.audio import Samples
from bot.store.answers import AnswerStore
from bot.voice.player import Player
from tests.conversation.doubles import (
    EspeakVoice,
    LocalWhisper,
    RecordingSpeaker,
    answering,
    load_fixture,
    pcm48k_stereo_to_16k,
    speak16k,
    to_48k_stereo_frames,
)
from tests.fakes.openai import FakeOpenAI

GUILD, CHANNEL = 1000, 2000
WAIT_S = 60.0


@attrs.define
class Call:
    conversation: VoiceConversation
    speaker: RecordingSpeaker
    voice: EspeakVoice
    fake: FakeOpenAI
    answers: AnswerStore
    turns: asyncio.Queue[TurnRecord]

    def say(self, user_id: int, samples: Samples, ends_at: float | None = None) -> float:
        """Delivers a user's speech at once, each frame stamped as if it had arrived in real time ending at `ends_at`.

        Returns when it started. Stamping speech that just ended (the default) spares the test its duration.
        """
        frames = to_48k_stereo_frames(samples)
        t0 = (time.monotonic() if ends_at is None else ends_at) - len(frames) * 0.02
        for i, frame in enumerate(frames):
            self.conversation.hear(user_id, frame, t0 + (i + 1) * 0.02)
        return t0

    async def next_turn(self) -> TurnRecord:
        return await asyncio.wait_for(self.turns.get(), WAIT_S)


async def build(
    whisper: LocalWhisper,
    vad_model: SileroModel,
    tmp_path: Path,
    addressing: AddressingMode = "all",
    realtime: bool = False,
) -> AsyncIterator[Call]:
    turns: asyncio.Queue[TurnRecord] = asyncio.Queue()
    async with FakeOpenAI() as fake, answering(fake, tmp_path / "answers.sqlite3") as (answerer, answers):
        speaker, voice = RecordingSpeaker(realtime=realtime), EspeakVoice()
        conversation = VoiceConversation(
            guild_id=GUILD,
            channel_id=CHANNEL,
            settings=ConversationSettings(names=["computer"], language="en"),
            vad_model=vad_model,
            transcriber=whisper,
            transcription_slots=asyncio.Semaphore(1),
            answerer=answerer,
            voice=voice,
            speaker=speaker,
            on_turn=turns.put,
            addressing=addressing,
        )
        try:
            yield Call(conversation, speaker, voice, fake, answers, turns)
        finally:
            await conversation.close()


@pytest.fixture
async def call(whisper: LocalWhisper, vad_model: SileroModel, tmp_path: Path) -> AsyncIterator[Call]:
    async for c in build(whisper, vad_model, tmp_path):
        yield c


@pytest.fixture
async def realtime_call(whisper: LocalWhisper, vad_model: SileroModel, tmp_path: Path) -> AsyncIterator[Call]:
    async for c in build(whisper, vad_model, tmp_path, realtime=True):
        yield c


@pytest.fixture
async def call_by_name(whisper: LocalWhisper, vad_model: SileroModel, tmp_path: Path) -> AsyncIterator[Call]:
    async for c in build(whisper, vad_model, tmp_path, addressing="name"):
        yield c


async def heard_back(whisper: LocalWhisper, pcm: bytes) -> str:
    return (await whisper.transcribe(pcm48k_stereo_to_16k(pcm), "en")).text.lower()


async def test_a_spoken_question_is_answered_aloud_sentence_by_sentence(call: Call, whisper: LocalWhisper) -> None:
    call.fake.reply("The weather on Mars is very cold. Dust storms are common there.")
    call.say(42, load_fixture("weather_question"))
    turn = await call.next_turn()

    assert turn.user_id == 42
    assert "weather" in turn.transcript.lower() and "mars" in turn.transcript.lower()
    assert turn.answer_text == "The weather on Mars is very cold. Dust storms are common there."
    assert not turn.interrupted
    # The model was asked the transcript; the answer went to the speech engine one sentence at a time.
    asked = call.fake.chat_requests[0]["messages"][-1]["content"]
    assert asked == turn.question == turn.transcript
    assert call.voice.spoken == ["The weather on Mars is very cold.", "Dust storms are common there."]
    # What the channel hears is the answer.
    spoken = await heard_back(whisper, bytes(call.speaker.pcm))
    assert "mars" in spoken and "cold" in spoken
    # The turn is stored as a voice answer, with its transcript, for corrections.
    assert turn.answer_id is not None
    stored = await call.answers.get(turn.answer_id)
    assert stored is not None
    assert (stored.source, stored.user_id, stored.guild_id, stored.channel_id) == ("voice", 42, GUILD, CHANNEL)
    assert stored.transcript == turn.transcript
    # Timings for /voice status run in order from the end of speech.
    t = turn.timings
    assert t.transcribed_ms is not None and t.first_token_ms is not None and t.first_packet_ms is not None
    assert t.end_of_speech_ms <= t.transcribed_ms <= t.first_token_ms <= t.first_packet_ms
    assert call.conversation.status.recent_turns == [turn]


async def test_two_speakers_in_a_row_are_answered_as_themselves(call: Call) -> None:
    started = call.say(2, load_fixture("capital_of_france"))
    call.say(1, load_fixture("weather_question"), ends_at=started - 0.3)
    first, second = await call.next_turn(), await call.next_turn()

    assert (first.user_id, second.user_id) == (1, 2)
    assert "weather" in first.transcript.lower()
    assert "capital" in second.transcript.lower()
    assert first.answer_text == f"Answer to: {first.transcript}"
    assert second.answer_text == f"Answer to: {second.transcript}"
    for turn in (first, second):
        assert turn.answer_id is not None
        stored = await call.answers.get(turn.answer_id)
        assert stored is not None and stored.user_id == turn.user_id


async def test_speaking_over_the_bot_stops_it_and_the_new_question_is_answered(realtime_call: Call) -> None:
    call = realtime_call
    long_answer = " ".join(f"This is sentence number {n} of a long answer." for n in range(1, 9))
    call.fake.reply(long_answer, "Mars is cold.")
    call.say(1, load_fixture("capital_of_france"))
    await asyncio.wait_for(call.speaker.playing.wait(), WAIT_S)

    call.say(2, load_fixture("weather_question"))  # someone talks over the bot
    interrupted = await call.next_turn()
    assert call.speaker.stopped_during_play == 1
    assert interrupted.user_id == 1 and interrupted.interrupted
    assert len(call.voice.spoken) < 8  # the rest of the long answer was never spoken

    answered = await call.next_turn()
    assert answered.user_id == 2 and not answered.interrupted
    assert "weather" in answered.transcript.lower()
    assert answered.answer_text == "Mars is cold."
    assert call.voice.spoken[-1] == "Mars is cold."


async def test_name_mode_ignores_side_talk_and_answers_when_called(call_by_name: Call) -> None:
    call = call_by_name
    started = call.say(2, speak16k("Computer, what is the capital of France?"))
    call.say(1, load_fixture("weather_question"), ends_at=started - 0.3)  # side talk before it: no name
    turn = await call.next_turn()

    assert turn.user_id == 2
    assert "capital" in turn.question.lower() and "computer" not in turn.question.lower()
    assert "computer" in turn.transcript.lower()
    # Only the called question reached the model; the side talk was never answered.
    assert len(call.fake.chat_requests) == 1
    assert call.fake.chat_requests[0]["messages"][-1]["content"] == turn.question
    await call.conversation.wait_idle()
    assert call.turns.empty()


async def test_silence_and_noise_start_no_turn(call: Call) -> None:
    rng = np.random.default_rng(3)
    started = call.say(8, load_fixture("capital_of_france"))
    call.say(7, (rng.standard_normal(32_000) * 0.05).astype(np.float32), ends_at=started - 0.1)
    turn = await call.next_turn()
    assert turn.user_id == 8
    assert len(call.fake.chat_requests) == 1


async def test_when_the_model_fails_the_speaker_hears_why_and_nothing_is_stored(call: Call) -> None:
    call.fake.fail_next(500, path_prefix="/chat")
    call.say(3, load_fixture("weather_question"))
    turn = await call.next_turn()
    assert turn.user_id == 3 and turn.answer_id is None
    assert call.voice.spoken == ["The model provider had an error. Try again shortly."]
    assert call.speaker.pcm  # it was said aloud, not just logged


async def test_the_answer_goes_out_through_the_voice_players_opus(
    whisper: LocalWhisper, vad_model: SileroModel, tmp_path: Path
) -> None:
    packets: list[bytes] = []
    player = Player(packets.append, lambda _speaking: None)
    turns: asyncio.Queue[TurnRecord] = asyncio.Queue()
    async with FakeOpenAI() as fake, answering(fake, tmp_path / "answers.sqlite3") as (answerer, _):
        fake.reply("Paris is the capital of France.")
        conversation = VoiceConversation(
            guild_id=GUILD,
            channel_id=CHANNEL,
            settings=ConversationSettings(language="en"),
            vad_model=vad_model,
            transcriber=whisper,
            transcription_slots=asyncio.Semaphore(1),
            answerer=answerer,
            voice=EspeakVoice(),
            speaker=player,
            on_turn=turns.put,
        )
        try:
            frames = to_48k_stereo_frames(load_fixture("capital_of_france"))
            t0 = time.monotonic() - len(frames) * 0.02
            for i, frame in enumerate(frames):
                conversation.hear(9, frame, t0 + (i + 1) * 0.02)
            turn = await asyncio.wait_for(turns.get(), WAIT_S)
        finally:
            await conversation.close()
    assert turn.answer_text == "Paris is the capital of France."
    decoder = av.CodecContext.create("opus", "r")
    to_s16 = av.AudioResampler(format="s16", layout="stereo", rate=48_000)
    pcm = bytearray()
    for data in packets:
        for decoded in decoder.decode(av.Packet(data)):  # type: ignore[attr-defined]
            for frame in to_s16.resample(decoded):  # type: ignore[arg-type]
                pcm += frame.to_ndarray().tobytes()
    heard = await heard_back(whisper, bytes(pcm))
    assert "paris" in heard and "france" in heard
