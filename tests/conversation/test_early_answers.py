"""Early answers on their own: which are begun, which a turn keeps, which are dropped, and which model calls come
back to the speaker's allowance."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from bot.conversation.early_answers import EarlyAnswers, same_words
from bot.errors import RateLimited

ANNA, BEN = 1, 2


class Allowance:
    """A speaker's model calls, as strict as the real rate limiter: `admit` takes one or refuses, `give_back` returns
    one that was taken (giving back more than was taken is a bug in the caller)."""

    def __init__(self, calls: int = 10, *, broken: bool = False) -> None:
        self.left = {ANNA: calls, BEN: calls}
        self.broken = broken
        self.gate = asyncio.Event()
        self.gate.set()

    async def admit(self, user_id: int) -> None:
        await self.gate.wait()
        if self.broken:
            raise ConnectionError("database unreachable")
        if self.left[user_id] == 0:
            raise RateLimited(30)
        self.left[user_id] -= 1

    async def give_back(self, user_id: int) -> None:
        self.left[user_id] += 1
        assert self.left[user_id] <= 10, "gave back a call that was never taken"


@attrs.define
class Answer:
    text: str
    asked_model: bool = False
    discarded: bool = False

    def discard(self) -> None:
        self.discarded = True


async def begun(
    early: EarlyAnswers[Answer], user_id: int, text: str, *, pausing: bool = True, model_asked: bool = False
) -> Answer | None:
    """Hears `text` in the speaker's pause and begins its answer the way the conversation does; the answer started."""
    started: list[Answer] = []

    def start() -> Answer:
        started.append(Answer(text, asked_model=model_asked))
        return started[-1]

    if early.heard_again(user_id, text) and early.may_begin(user_id):
        early.begin(user_id, text, still_pausing=lambda: pausing, start=start)
    await early.settle()
    return started[0] if started else None


def answers(allowance: Allowance, per_utterance: int = 2) -> EarlyAnswers[Answer]:
    return EarlyAnswers(allowance, per_utterance=per_utterance, guild_id=7)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("What is the capital of France?", "what is the capital of france", True),
        ("Tell me,  about zebras!", "tell me about zebras", True),
        ("What is the capital of France?", "What is the capital of Spain?", False),
        ("Tell me about zebras", "Tell me about zebras please", False),
    ],
)
def test_transcripts_that_differ_in_case_punctuation_or_spacing_say_the_same(a: str, b: str, same: bool) -> None:
    assert same_words(a, b) is same


async def test_a_turn_with_the_same_words_keeps_the_answer_begun_in_the_pause() -> None:
    allowance = Allowance()
    early = answers(allowance)
    answer = await begun(early, ANNA, "What is the capital of France?")
    assert answer is not None and allowance.left[ANNA] == 9
    kept = early.utterance_ended(ANNA)
    assert kept is not None and early.for_turn(ANNA, kept, "what is the capital of france") is answer
    await early.settle()
    assert not answer.discarded and allowance.left[ANNA] == 9  # the call was used for this answer


@pytest.mark.parametrize(("model_asked", "calls_left"), [(False, 10), (True, 9)], ids=["not asked", "asked"])
async def test_other_words_at_the_turn_drop_the_answer_and_give_its_call_back_unless_the_model_was_asked(
    model_asked: bool, calls_left: int
) -> None:
    allowance = Allowance()
    early = answers(allowance)
    answer = await begun(early, ANNA, "What is the capital of France?", model_asked=model_asked)
    ended = early.utterance_ended(ANNA)
    assert ended is not None and early.for_turn(ANNA, ended, "What is the capital of France, and of Spain?") is None
    await early.settle()
    assert answer is not None and answer.discarded and allowance.left[ANNA] == calls_left


async def test_a_new_transcript_of_the_pause_with_the_same_words_changes_nothing_and_other_words_drop_it() -> None:
    allowance = Allowance()
    early = answers(allowance, per_utterance=5)
    first = await begun(early, ANNA, "Tell me about zebras")
    assert await begun(early, ANNA, "tell me about zebras.") is None
    assert first is not None and not first.discarded and allowance.left[ANNA] == 9
    second = await begun(early, ANNA, "Tell me about zebras and lions")
    assert first.discarded and second is not None and allowance.left[ANNA] == 9


async def test_each_utterance_has_a_bounded_number_of_early_answers() -> None:
    allowance = Allowance()
    early = answers(allowance, per_utterance=2)
    assert await begun(early, ANNA, "Tell me about zebras, part one") is not None
    assert await begun(early, ANNA, "Tell me about zebras, part one and two") is not None
    assert await begun(early, ANNA, "Tell me about zebras, part one and two and three") is None
    assert await begun(early, BEN, "And about lions?") is not None  # another speaker has their own
    early.utterance_ended(ANNA)
    assert await begun(early, ANNA, "Now tell me about lions") is not None  # the next utterance may again


async def test_a_pause_that_ended_while_the_call_was_taken_gives_the_call_back() -> None:
    allowance = Allowance()
    early = answers(allowance)
    assert await begun(early, ANNA, "What is the capital of France?", pausing=False) is None
    assert allowance.left[ANNA] == 10 and early.utterance_ended(ANNA) is None


async def test_a_speaker_out_of_calls_gets_no_early_answer_and_none_is_given_back() -> None:
    allowance = Allowance(calls=0)
    early = answers(allowance)
    assert await begun(early, ANNA, "What is the capital of France?") is None
    assert allowance.left[ANNA] == 0 and early.utterance_ended(ANNA) is None


async def test_an_allowance_that_cannot_be_reached_begins_no_early_answer() -> None:
    early = answers(Allowance(broken=True))
    assert await begun(early, ANNA, "What is the capital of France?") is None
    assert early.utterance_ended(ANNA) is None  # the turn answers once speech has ended


async def test_a_speaker_who_left_loses_their_early_answer_and_gets_its_call_back() -> None:
    allowance = Allowance()
    early = answers(allowance)
    answer = await begun(early, ANNA, "What is the capital of France?")
    early.forget(ANNA)
    await early.settle()
    assert answer is not None and answer.discarded and allowance.left[ANNA] == 10
    assert early.utterance_ended(ANNA) is None


async def test_closing_drops_every_early_answer_and_one_being_admitted_never_starts() -> None:
    allowance = Allowance()
    early = answers(allowance)
    answer = await begun(early, ANNA, "What is the capital of France?")
    allowance.gate.clear()  # Ben's call is being taken when the conversation closes
    started: list[Answer] = []

    def start() -> Answer:
        started.append(Answer("And of Spain?"))
        return started[-1]

    assert early.heard_again(BEN, "And of Spain?") and early.may_begin(BEN)
    early.begin(BEN, "And of Spain?", still_pausing=lambda: True, start=start)
    early.close()
    allowance.gate.set()
    await early.settle()
    assert answer is not None and answer.discarded and started == []
    assert allowance.left == {ANNA: 10, BEN: 10}
    assert not early.may_begin(ANNA)
