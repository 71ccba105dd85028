"""Answers begun during a speaker's pause: at most one per speaker, a bounded number per utterance; kept for the turn
when its final words are the same, else dropped unheard, the model call given back if the model was not asked yet."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import attrs

from bot.errors import UserError

_log = logging.getLogger(__name__)


class Admitting(Protocol):
    """Takes a model call from a user's rate limit ahead of the answer, and gives it back (bot.llm's Answerer fits)."""

    async def admit(self, user_id: int) -> None: ...
    async def give_back(self, user_id: int) -> None: ...


class Droppable(Protocol):
    """An answer on its way to speech, as far as dropping it goes."""

    @property
    def asked_model(self) -> bool:
        """Whether the request went (or is going) to the model: dropping the answer then does not undo its cost."""
        ...

    def discard(self) -> None: ...


A = TypeVar("A", bound=Droppable)


def same_words(a: str, b: str) -> bool:
    """Two transcripts that differ only in case, punctuation or spacing say the same thing."""
    return _words(a) == _words(b)


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", "", text.lower()).split()


@attrs.define
class EarlyAnswer(Generic[A]):
    """An answer begun during a speaker's pause, for `transcript`; its model call is already admitted."""

    transcript: str
    answer: A


class EarlyAnswers(Generic[A]):
    """The early answers of one conversation, by speaker, and the model calls being taken or given back for them."""

    def __init__(self, answerer: Admitting, *, per_utterance: int, guild_id: int) -> None:
        self._answerer = answerer
        self._per_utterance = per_utterance
        self._guild_id = guild_id
        self._by_user: dict[int, EarlyAnswer[A]] = {}
        # Early answers begun in each speaker's current utterance (bounded by `per_utterance`).
        self._begun: dict[int, int] = {}
        # Model calls being taken for early answers, and given back for dropped ones (the rate limit may be kept in
        # the database, shared by several bot processes).
        self._admitting: set[asyncio.Task[None]] = set()
        self._giving_back: set[asyncio.Task[None]] = set()
        self.closing = False

    def heard_again(self, user_id: int, transcript: str) -> bool:
        """A new transcript of the speaker's pause: False when the answer already begun is for the same words (a
        short sound in the pause changed nothing); otherwise that answer, if any, is dropped."""
        early = self._by_user.get(user_id)
        if early is not None:
            if same_words(early.transcript, transcript):
                return False
            self.drop(user_id)
        return True

    def may_begin(self, user_id: int) -> bool:
        """Whether another answer may be begun early in the speaker's utterance (counted when it may)."""
        if self.closing:
            return False
        begun = self._begun.get(user_id, 0)
        if begun >= self._per_utterance:
            return False  # this utterance has had its early answers: the turn answers once speech has ended
        self._begun[user_id] = begun + 1
        return True

    def begin(
        self, user_id: int, transcript: str, *, still_pausing: Callable[[], bool], start: Callable[[], A]
    ) -> None:
        """Take the speaker's model call, then `start` the answer, if they are `still_pausing` by then."""
        admission = asyncio.get_running_loop().create_task(self._begin(user_id, transcript, still_pausing, start))
        self._admitting.add(admission)
        admission.add_done_callback(self._admitting.discard)

    async def _begin(
        self, user_id: int, transcript: str, still_pausing: Callable[[], bool], start: Callable[[], A]
    ) -> None:
        try:
            await self._answerer.admit(user_id)
        except UserError:
            return  # out of calls: the turn says so once the end of speech is confirmed
        except Exception as exc:  # e.g. the database is unreachable: the turn tries again once speech has ended
            _log.warning("guild %s: could not take a model call for an early answer: %s", self._guild_id, exc)
            return
        if self.closing or not still_pausing() or user_id in self._by_user:
            await self._give_back(user_id)  # the pause ended while the call was being taken
            return
        self._by_user[user_id] = EarlyAnswer(transcript, start())
        _log.debug("guild %s: answering user %s early: %r", self._guild_id, user_id, transcript)

    def utterance_ended(self, user_id: int) -> EarlyAnswer[A] | None:
        """The speaker's utterance ended: its early answer goes with the turn; the next one may be answered early."""
        self._begun.pop(user_id, None)
        return self._by_user.pop(user_id, None)

    def for_turn(self, user_id: int, early: EarlyAnswer[A], transcript: str) -> A | None:
        """The early answer, when the turn's final `transcript` has its words; otherwise it is dropped."""
        if same_words(early.transcript, transcript):
            return early.answer
        self.drop_answer(user_id, early)  # other words: that answer is not this question's
        return None

    def forget(self, user_id: int) -> None:
        """The speaker left."""
        self._begun.pop(user_id, None)
        self.drop(user_id)

    def drop(self, user_id: int) -> None:
        """The speaker's early answer, if any, will not be spoken."""
        early = self._by_user.pop(user_id, None)
        if early is not None:
            self.drop_answer(user_id, early)

    def drop_answer(self, user_id: int, early: EarlyAnswer[A]) -> None:
        early.answer.discard()
        _log.debug("guild %s: dropped the early answer to user %s: %r", self._guild_id, user_id, early.transcript)
        if early.answer.asked_model:
            return  # the model was asked: that call was made, and stays counted against the speaker's limit
        task = asyncio.get_running_loop().create_task(self._give_back(user_id))
        self._giving_back.add(task)
        task.add_done_callback(self._giving_back.discard)

    async def _give_back(self, user_id: int) -> None:
        try:
            await self._answerer.give_back(user_id)
        except Exception as exc:  # the call stays counted: the user has one fewer in this window
            _log.warning("guild %s: could not give back user %s's unused model call: %s", self._guild_id, user_id, exc)

    def close(self) -> None:
        """No more early answers: one whose call is being taken gives it back instead of starting."""
        self.closing = True
        for user_id in list(self._by_user):
            self.drop(user_id)

    async def settle(self) -> None:
        """Returns once no model call is being taken or given back."""
        while self._admitting or self._giving_back:
            await asyncio.gather(*self._admitting, *self._giving_back, return_exceptions=True)
