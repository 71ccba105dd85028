"""Whole voice turns through VoiceConversation: real Silero VAD, real Whisper base, the real Answerer over the loopback
FakeOpenAI, espeak-ng speech, and a speaker that plays in real time."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import av
import numpy as np
import pytest

from bot.conversation.settings import AddressingMode, ConversationSettings
from bot.conversation.vad import SileroModel
from bot.conversation.voice_conversation import SpeechToText, TurnRecord, VoiceConversation
from bot.errors import RateLimited
from bot.limits import RateLimiter
from bot.speech.audio import Samples
from bot.store.answers import AnswerStore
from bot.voice.player import Player
from tests.conversation.doubles import (
    EspeakVoice,
    LocalWhisper,
    RecordingSpeaker,
    ScriptedTranscriber,
    answering,
    load_fixture,
    pcm48k_stereo_to_16k,
    speak16k,
    to_48k_stereo_frames,
)
from tests.fakes.openai import Deltas, FakeOpenAI

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
    clock: ManualClock | None = None

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

    def say_now(self, user_id: int, samples: Samples) -> None:
        """Delivers speech on the conversation's manual clock, which then stands at its end: time in the conversation
        moves only when the test moves it (a pause lasts until `wait`)."""
        assert self.clock is not None
        for frame in to_48k_stereo_frames(samples):
            self.clock.now += 0.02
            self.conversation.hear(user_id, frame, self.clock.now)

    def wait(self, seconds: float) -> None:
        """Silence: the clients send nothing for `seconds` (the silence ticker sees the time pass)."""
        assert self.clock is not None
        self.clock.now += seconds


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def build(
    whisper: LocalWhisper,
    vad_model: SileroModel,
    tmp_path: Path,
    addressing: AddressingMode = "all",
    realtime: bool = False,
    *,
    clock: ManualClock | None = None,
    transcriber: SpeechToText | None = None,
    limiter: RateLimiter | None = None,
    posting: asyncio.Event | None = None,
) -> AsyncIterator[Call]:
    """With `posting`, each finished turn is reported only once that event is set (a slow transcript channel)."""
    turns: asyncio.Queue[TurnRecord] = asyncio.Queue()

    async def on_turn(record: TurnRecord) -> None:
        if posting is not None:
            await posting.wait()
        await turns.put(record)

    async with FakeOpenAI() as fake, answering(fake, tmp_path / "answers.sqlite3", limiter) as (answerer, answers):
        speaker, voice = RecordingSpeaker(realtime=realtime), EspeakVoice()
        conversation = VoiceConversation(
            guild_id=GUILD,
            channel_id=CHANNEL,
            settings=ConversationSettings(names=["computer"], language="en"),
            vad_model=vad_model,
            transcriber=transcriber or whisper,
            transcription_slots=asyncio.Semaphore(1),
            answerer=answerer,
            voice=voice,
            speaker=speaker,
            on_turn=on_turn,
            addressing=addressing,
            clock=clock or time.monotonic,
        )
        try:
            yield Call(conversation, speaker, voice, fake, answers, turns, clock)
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


async def test_thinking_opened_in_the_prompt_gives_way_to_the_answer_spoken_from_its_start(call: Call) -> None:
    # The model's chat template opened `<think>` in the prompt: nothing says it thinks until `</think>`.
    thoughts = "They ask about the weather. I should recall what I know of Mars. "
    call.fake.reply(Deltas([{"content": thoughts}, {"content": "</think>Mars is cold. It is dusty."}]))
    call.fake.chunk_delay_s = 0.05
    call.say(5, load_fixture("weather_question"))
    turn = await call.next_turn()
    assert turn.answer_text == "Mars is cold. It is dusty."
    assert call.voice.spoken[-2:] == ["Mars is cold.", "It is dusty."]
    assert not any("think>" in s for s in call.voice.spoken)
    assert turn.answer_id is not None
    stored = await call.answers.get(turn.answer_id)
    assert stored is not None and stored.answer == "Mars is cold. It is dusty."


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


# -- answering during the pause ---------------------------------------------------------------------------------------
# The speaker's pause is transcribed speculatively; the answer to that transcript starts at once and is spoken only if
# the end of speech confirms the same words. Time is the test's: the pause lasts until the test moves the clock on.

WEATHER = "The weather on Mars is very cold."
PARIS = "Paris is the capital of France."
LONG_ANSWER = " ".join(f"Zebras have stripes, and stripe number {n} is black and white." for n in range(60))


@pytest.fixture
def limiter() -> RateLimiter:
    return RateLimiter(2, 600)  # each test below asks one question: one call may be left afterwards, not two


@pytest.fixture
async def paused_call(
    whisper: LocalWhisper, vad_model: SileroModel, tmp_path: Path, limiter: RateLimiter
) -> AsyncIterator[Call]:
    async for c in build(whisper, vad_model, tmp_path, clock=ManualClock(), limiter=limiter):
        yield c


@pytest.fixture
def scripted() -> ScriptedTranscriber:
    return ScriptedTranscriber("")


@pytest.fixture
async def scripted_paused_call(
    whisper: LocalWhisper, vad_model: SileroModel, tmp_path: Path, limiter: RateLimiter, scripted: ScriptedTranscriber
) -> AsyncIterator[Call]:
    async for c in build(whisper, vad_model, tmp_path, clock=ManualClock(), transcriber=scripted, limiter=limiter):
        yield c


async def calls_left(limiter: RateLimiter, user_id: int) -> int:
    n = 0
    try:
        while n < 10:
            await limiter.take(user_id)
            n += 1
    except RateLimited:
        pass
    return n


async def test_the_answer_begun_in_the_pause_is_spoken_once_when_the_speaker_stays_quiet(
    paused_call: Call, whisper: LocalWhisper, limiter: RateLimiter
) -> None:
    call = paused_call
    call.fake.reply("Paris is the capital of France. It lies on the Seine.")
    call.say_now(4, load_fixture("capital_of_france"))  # ends in 0.375 s of pause: not yet the end of speech

    # While the speaker still pauses, the model is asked and the first phrase is made into speech, but not played.
    await asyncio.wait_for(call.fake.chat_started.wait(), WAIT_S)
    await asyncio.wait_for(call.voice.synthesised.wait(), WAIT_S)
    assert not call.speaker.pcm and call.turns.empty()

    call.wait(0.3)  # the pause is now the end of speech
    turn = await call.next_turn()
    await call.conversation.wait_idle()

    assert "capital" in turn.transcript.lower() and turn.timings.early_answer
    assert turn.answer_text == "Paris is the capital of France. It lies on the Seine."
    assert call.voice.spoken == ["Paris is the capital of France.", "It lies on the Seine."]
    assert "paris" in await heard_back(whisper, bytes(call.speaker.pcm))
    assert len(call.fake.chat_requests) == 1 and call.fake.chat_streams_dropped == 0
    stored = await call.answers.recent_for_user(GUILD, 4)
    assert [a.id for a in stored] == [turn.answer_id]
    assert call.turns.empty()  # posted once
    assert await calls_left(limiter, 4) == 1  # counted once


async def test_other_final_words_drop_the_answer_begun_in_the_pause(
    scripted_paused_call: Call, scripted: ScriptedTranscriber, whisper: LocalWhisper, limiter: RateLimiter
) -> None:
    call = scripted_paused_call
    # A short sound in the pause (too short to be talking on) makes Whisper hear other words the second time.
    scripted.texts = ["Tell me about zebras.", "Tell me about the weather on Mars."]
    call.fake.chunk_delay_s = 0.01  # the long answer is still streaming when it is dropped
    call.fake.reply(LONG_ANSWER, WEATHER)
    call.say_now(5, load_fixture("capital_of_france"))
    await asyncio.wait_for(call.fake.chat_started.wait(), WAIT_S)

    call.say_now(5, np.concatenate([load_fixture("weather_question")[12_800:14_080], np.zeros(3_200, np.float32)]))
    await asyncio.wait_for(call.fake.chat_dropped.wait(), WAIT_S)  # the zebra answer's stream was closed
    call.wait(0.5)
    turn = await call.next_turn()
    await call.conversation.wait_idle()

    assert turn.transcript == "Tell me about the weather on Mars." and turn.answer_text == WEATHER
    played = await heard_back(whisper, bytes(call.speaker.pcm))
    assert "cold" in played and "zebra" not in played and "stripe" not in played
    stored = await call.answers.recent_for_user(GUILD, 5)
    assert [(a.id, a.answer) for a in stored] == [(turn.answer_id, WEATHER)]
    assert call.turns.empty()
    assert call.fake.chat_streams_dropped == 1
    assert await calls_left(limiter, 5) == 0  # the dropped answer had reached the model: its call stays counted


async def test_talking_on_after_a_pause_drops_the_answer_begun_in_it(
    paused_call: Call, whisper: LocalWhisper, limiter: RateLimiter
) -> None:
    call = paused_call
    call.fake.chunk_delay_s = 0.01
    call.fake.reply(LONG_ANSWER, WEATHER)
    call.say_now(6, load_fixture("capital_of_france"))
    await asyncio.wait_for(call.fake.chat_started.wait(), WAIT_S)

    call.say_now(6, load_fixture("weather_question")[: int(2.15 * 16_000)])  # talks on: the question goes on
    await asyncio.wait_for(call.fake.chat_dropped.wait(), WAIT_S)
    assert not call.speaker.pcm and call.turns.empty()
    call.wait(0.6)
    turn = await call.next_turn()
    await call.conversation.wait_idle()

    assert "capital" in turn.transcript.lower() and "weather" in turn.transcript.lower()
    assert turn.answer_text == WEATHER
    played = await heard_back(whisper, bytes(call.speaker.pcm))
    assert "cold" in played and "zebra" not in played and "stripe" not in played
    stored = await call.answers.recent_for_user(GUILD, 6)
    assert [(a.id, a.answer) for a in stored] == [(turn.answer_id, WEATHER)]
    assert call.turns.empty()
    assert await calls_left(limiter, 6) == 0  # two calls reached the model, two were counted


async def test_pausing_and_talking_on_again_and_again_makes_no_model_call_the_rate_limit_does_not_count(
    whisper: LocalWhisper, vad_model: SileroModel, tmp_path: Path
) -> None:
    limiter = RateLimiter(10, 600)
    scripted = ScriptedTranscriber(*(f"Tell me about zebras, part {n}." for n in range(1, 8)))
    settings = ConversationSettings(names=["computer"], language="en")
    assert settings.early_answers_per_utterance == 2
    async for call in build(whisper, vad_model, tmp_path, clock=ManualClock(), transcriber=scripted, limiter=limiter):
        talk_on = np.concatenate([load_fixture("weather_question")[: int(2.15 * 16_000)], np.zeros(4_000, np.float32)])
        call.say_now(9, load_fixture("capital_of_france"))  # ends in a pause: answered early
        await asyncio.wait_for(call.fake.chat_started.wait(), WAIT_S)
        for _ in range(4):  # talks on and pauses again, four times, all in one sentence
            call.fake.chat_started.clear()
            call.say_now(9, talk_on)
            if len(call.fake.chat_requests) < 2:  # the second pause is answered early too; later ones are not
                await asyncio.wait_for(call.fake.chat_started.wait(), WAIT_S)
        call.wait(0.5)
        turn = await call.next_turn()
        await call.conversation.wait_idle()

        assert turn.answer_text.startswith("Answer to: Tell me about zebras, part") and not turn.timings.early_answer
        stored = await call.answers.recent_for_user(GUILD, 9)
        assert [a.id for a in stored] == [turn.answer_id]
        # Every request that reached the model is counted against the speaker, and their pauses cost at most two.
        assert 10 - await calls_left(limiter, 9) == len(call.fake.chat_requests) == 3


# -- answering during the pause while another turn runs ----------------------------------------------------------------


@pytest.fixture
def posting() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
async def posting_call(
    whisper: LocalWhisper, vad_model: SileroModel, tmp_path: Path, limiter: RateLimiter, posting: asyncio.Event
) -> AsyncIterator[Call]:
    async for c in build(
        whisper, vad_model, tmp_path, realtime=True, clock=ManualClock(), limiter=limiter, posting=posting
    ):
        yield c


async def test_talking_over_the_bot_stops_it_and_is_answered_in_the_pause_while_that_turn_still_runs(
    posting_call: Call, posting: asyncio.Event, limiter: RateLimiter
) -> None:
    call = posting_call
    call.fake.chunk_delay_s = 0.01  # the long answer is still being written when it is cut short
    call.fake.default_reply = lambda body: WEATHER if "weather" in json.dumps(body).lower() else LONG_ANSWER
    call.say_now(7, load_fixture("capital_of_france"))
    call.wait(0.3)
    await asyncio.wait_for(call.speaker.playing.wait(), WAIT_S)
    call.fake.chat_started.clear()

    call.say_now(8, load_fixture("weather_question"))  # user 8 talks over the bot; it ends in 0.4 s of pause
    await asyncio.wait_for(call.speaker.interrupted.wait(), WAIT_S)  # the bot fell silent at once
    call.speaker.realtime = False  # the rest is played as fast as it comes
    # User 7's turn is not over (its transcript is still being posted), yet user 8's answer is begun in the pause.
    await asyncio.wait_for(call.fake.chat_started.wait(), WAIT_S)
    assert len(call.fake.chat_requests) == 2 and call.turns.empty()
    heard_before = len(call.speaker.pcm)

    call.wait(0.2)  # user 8's end of speech: that turn waits for user 7's
    posting.set()
    interrupted, answered = await call.next_turn(), await call.next_turn()
    await call.conversation.wait_idle()

    assert interrupted.user_id == 7 and interrupted.interrupted and call.speaker.stopped_during_play == 1
    assert answered.user_id == 8 and answered.answer_text == WEATHER and answered.timings.early_answer
    assert call.voice.spoken.count(WEATHER) == 1 and len(call.speaker.pcm) > heard_before
    assert len(call.fake.chat_requests) == 2  # user 8 was asked about once
    assert await calls_left(limiter, 8) == 1
