"""Turns a question into a streamed answer: checks, rate limit, conversation memory, model choice, storage."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Protocol

import attrs

from bot.errors import InvalidInput, ServiceUnavailable
from bot.garbage import COLLECTOR, CollectorHolds
from bot.i18n import _
from bot.limits import Limiter
from bot.llm.chat import ChatMessage, ChatModel, ChatStream, ModelNotFound
from bot.llm.knowledge import Citation, Knowledge, KnowledgeBlock, Reader
from bot.llm.outages import ModelOutages, Outage
from bot.llm.reasoning import Delta
from bot.llm.references import ReferenceBlock, References
from bot.llm.settings import LLMSettings
from bot.llm.tokens import estimate_tokens
from bot.llm.usage import Spender, UsageLedger
from bot.store.answers import (
    Answer,
    AnswerStore,
    ImageRef,
    Memory,
    NewAnswer,
    PrivateAsker,
    Source,
    Turn,
    new_conversation_id,
)
from bot.store.guilds import GuildSettingsStore, QuestionSettings

_log = logging.getLogger(__name__)


@attrs.frozen
class QuestionImage:
    """A picture sent with a question: what the model gets (a data URL) and what is stored (a reference)."""

    data_url: str
    ref: ImageRef


@attrs.frozen
class Question:
    guild_id: int | None
    channel_id: int
    user_id: int
    text: str
    source: Source
    new_conversation: bool = False
    transcript: str | None = None
    private: bool = False  # shown only to the asker (an ephemeral reply)
    admitted: bool = False  # the asker's rate limit was already taken (before downloading or transcribing)
    images: tuple[QuestionImage, ...] = ()
    # A thread's conversation: its turns are the memory, whoever asked them; the thread's channel's persona applies.
    conversation_id: str | None = None
    parent_channel_id: int | None = None

    @property
    def seen_only_by_asker(self) -> bool:
        """A private answer or a DM answer: its asker's private turns here may be its memory, as nobody else sees it."""
        return self.private or self.guild_id is None


def fit_context(
    system_prompt: str,
    turns: list[Turn],
    question: str,
    budget: int,
    count: Callable[[str], int] = estimate_tokens,
    *,
    references: str = "",
) -> list[ChatMessage]:
    """System prompt (with `references`, corrections relevant to the question, after it), then as many of the most
    recent turns as fit the token budget, then the question."""
    if references:
        system_prompt = f"{system_prompt}\n\n{references}" if system_prompt else references
    used = count(system_prompt) + count(question)
    kept: list[Turn] = []
    for turn in reversed(turns):
        cost = count(turn.question) + count(turn.answer)
        if used + cost > budget:
            break
        used += cost
        kept.insert(0, turn)
    messages = [ChatMessage("system", system_prompt)] if system_prompt else []
    for turn in kept:
        messages += [ChatMessage("user", turn.question), ChatMessage("assistant", turn.answer)]
    messages.append(ChatMessage("user", question))
    return messages


@attrs.define
class Reply:
    """One answer being produced. Iterate for the text so far; then `save()` stores it as an Answer."""

    question: Question
    model: str
    conversation_id: str
    messages: list[ChatMessage]
    _stream: ChatStream
    _answers: AnswerStore
    text: str = ""
    used_corrections: list[int] = attrs.field(factory=list[int])  # given to the model as verified answers
    thinking: str = ""  # what a reasoning model thought: never part of the answer
    system_prompt: str = ""  # the persona it was given (without the corrections it was shown)
    # The server's model when another one answered instead (the provider no longer has it); None when it answered.
    replaced: str | None = None
    citations: list[Citation] = attrs.field(factory=list[Citation])  # knowledge passages it was given

    async def __aiter__(self) -> AsyncIterator[str]:
        """The answer so far after each delta (unchanged while the model thinks; see `thinking`). It may shrink: a
        `</think>` with no `<think>` makes all of it thinking."""
        async for delta in self._stream.deltas:
            if delta.answer_was_thinking:  # thinking opened in the prompt: the text so far was never the answer
                self.thinking += self.text
                self.text = ""
            if delta.thinking:
                self.thinking += delta.text
            else:
                self.text += delta.text
            yield self.text
        if not self.text.strip():
            raise ServiceUnavailable(_("The model returned an empty answer. Try rephrasing your question."))

    async def save(self, message_ids: list[int] | None = None) -> Answer:
        q = self.question
        return await self._answers.add(
            NewAnswer(
                guild_id=q.guild_id,
                channel_id=q.channel_id,
                user_id=q.user_id,
                conversation_id=self.conversation_id,
                source=q.source,
                model=self.model,
                question=q.text,
                answer=self.text,
                transcript=q.transcript,
                prompt_tokens=self._stream.usage.prompt_tokens,
                completion_tokens=self._stream.usage.completion_tokens,
                private=q.private,
                system_prompt=self.system_prompt,
                images=tuple(i.ref for i in q.images),
            ),
            message_ids,
        )


class AcknowledgementsFirst:
    """Questions being acknowledged right now (admitted and deferred): answers in progress wait for them at their next
    step, so a burst of questions is acknowledged within Discord's 3 s before answer work takes the event loop; the
    garbage collector waits too (bot.garbage)."""

    def __init__(self, collector: CollectorHolds = COLLECTOR) -> None:
        self._collector = collector
        self._pending = 0
        self._clear = asyncio.Event()
        self._clear.set()
        # Set once an answer has waited for an acknowledgement (what tests wait on to see the order kept).
        self.held = asyncio.Event()

    @contextlib.contextmanager
    def acknowledging(self) -> Generator[None]:
        """Held from a question's arrival until its acknowledgement was sent (or refused)."""
        self._pending += 1
        self._clear.clear()
        self._collector.hold()
        try:
            yield
        finally:
            self._collector.release()
            self._pending -= 1
            if not self._pending:
                self._clear.set()

    async def wait(self) -> None:
        """Returns at once when no acknowledgement is pending, else once none is."""
        if self._pending:
            self.held.set()
            await self._clear.wait()


class MissingModelNotices(Protocol):
    """Where a server's admins hear that its model went missing at the provider, and that it answers again."""

    async def missing(self, guild_id: int, model: str, fallback: str) -> None: ...

    async def answering_again(self, guild_id: int, model: str) -> None: ...


class Answerer:
    """The service behind /ask, mentions, DMs, chat channels, audio and voice turns."""

    def __init__(
        self,
        chat: ChatModel,
        answers: AnswerStore,
        guilds: GuildSettingsStore,
        limiter: Limiter,
        settings: LLMSettings,
        *,
        references: References | None = None,
        outages: ModelOutages | None = None,
        notices: MissingModelNotices | None = None,
        ledger: UsageLedger | None = None,
        knowledge: Knowledge | None = None,
    ) -> None:
        self._references = references
        self._outages = outages or ModelOutages(settings.model_retry_s)
        self._notices = notices
        self._ledger = ledger
        self._knowledge = knowledge
        self._chat = chat
        self._answers = answers
        self._guilds = guilds
        self._limiter = limiter
        self._settings = settings
        self._slots: asyncio.Semaphore | None = None
        self.acknowledgements = AcknowledgementsFirst()

    def slot(self) -> asyncio.Semaphore:
        """Held while an answer is produced: bounds concurrent answers so a burst cannot starve acknowledgements."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._settings.max_concurrent_answers)
        return self._slots

    async def model_for(self, guild_id: int | None) -> str:
        """The model that answers here now: the server's, unless the provider no longer has it (then a fallback)."""
        return await self._instead_of(guild_id, await self._chosen(guild_id))

    async def _chosen(self, guild_id: int | None) -> str:
        return await self._guilds.active_model(guild_id) or self._settings.default_model

    async def _instead_of(self, guild_id: int | None, chosen: str) -> str:
        if not self._outages.skipped(chosen):
            return chosen
        return await self._fallback(guild_id, chosen) or chosen

    async def _fallback(self, guild_id: int | None, missing: str) -> str | None:
        """What answers instead of a missing model: the server's previous model, else the default (None: neither)."""
        candidates: list[str] = []
        if guild_id is not None:
            has_history, previous = await self._guilds.previous_model(guild_id)
            if has_history and previous:
                candidates.append(previous)
        candidates.append(self._settings.default_model)
        for model in candidates:
            if model != missing and not self._outages.skipped(model):
                return model
        return None

    async def _answer_deltas(
        self, reply: Reply, outer: ChatStream, messages: list[ChatMessage]
    ) -> AsyncIterator[Delta]:
        """The answer's deltas. When the provider does not have the model (retired, deleted, a fine-tune shut down, an
        adapter gone), before anything was streamed: the fallback answers, and the server's admins are told once."""
        guild_id = reply.question.guild_id
        chosen = reply.model
        purpose = "voice" if reply.question.source == "voice" else "answer"
        spender = Spender(purpose, guild_id, reply.question.user_id)
        while True:
            inner = self._chat.stream(reply.model, messages, spender=spender)
            started = False
            try:
                async for delta in inner.deltas:
                    started = True
                    yield delta
            except ModelNotFound:
                if started:
                    raise
                self._outages.missing(reply.model)
                fallback = await self._fallback(guild_id, reply.model)
                if fallback is None:
                    raise
                if reply.replaced is None:
                    reply.replaced = chosen
                    if guild_id is not None and self._notices is not None:
                        await self._tell(self._notices.missing(guild_id, chosen, fallback))
                reply.model = fallback
                continue
            outer.usage = inner.usage
            back = self._outages.answered(reply.model)
            if back and guild_id is not None and self._notices is not None:
                await self._tell(self._notices.answering_again(guild_id, reply.model))
            return

    @staticmethod
    async def _tell(notice: Awaitable[None]) -> None:
        """A notice to admins never costs the member the answer."""
        try:
            await notice
        except Exception:
            _log.warning("could not tell a server's admins about its model", exc_info=True)

    def shows_thinking(self, model: str) -> bool:
        """Whether a reasoning model's thinking is shown (as a spoiler) above its answers."""
        return self._settings.shows_thinking(model)

    async def check_takes_images(self, guild_id: int | None) -> None:
        """InvalidInput when the model answering here does not take pictures (checked before any download)."""
        model = await self.model_for(guild_id)
        if not self._settings.takes_images(model):
            raise InvalidInput(
                _("The model answering here (`{model}`) does not take pictures. Ask in words instead.", model=model)
            )

    def check(self, text: str) -> str:
        """The question, trimmed; InvalidInput if it is empty or too long."""
        text = text.strip()
        if not text:
            raise InvalidInput(_("There's no question to answer: the text was empty."))
        limit = self._settings.max_question_chars
        if len(text) > limit:
            raise InvalidInput(
                _(
                    "Your question is {count} characters long; the limit is {limit}.",
                    count=f"{len(text):,}",
                    limit=f"{limit:,}",
                )
            )
        return text

    async def admit(self, user_id: int) -> None:
        """Take one model call from the user's rate limit; RateLimited when none is left. Called before any
        expensive step (a download, a transcription), so a rate-limited user costs nothing."""
        await self._limiter.take(user_id)

    async def give_back(self, user_id: int) -> None:
        """Undo one `admit`: the call was begun and then abandoned unused (a voice answer begun during a pause that
        turned out not to be the end of the question), so it does not count against the user."""
        await self._limiter.give_back(user_id)

    async def begin(self, question: Question) -> Reply:
        """Validate, rate-limit (unless already admitted), check the budget and start streaming the answer to
        `question`."""
        question = attrs.evolve(question, text=self.check(question.text))
        if not question.admitted:
            await self._limiter.take(question.user_id)
        if self._ledger is not None:
            # One read, after the asker was acknowledged: a spent budget refuses before anything costs money.
            await self._ledger.check(question.guild_id, question.user_id)
        settings = self._settings

        # A private or DM turn is context only for its asker's later private turns in the same place: a public answer
        # (or a thread) built on one would repeat it to everyone there.
        private = question.seen_only_by_asker

        async def memory() -> Memory:
            if question.conversation_id is not None:
                asker = PrivateAsker(question.channel_id, question.user_id) if private else None
                turns = await self._answers.conversation(
                    question.conversation_id, limit=settings.memory_turns, private_asker=asker
                )
                return Memory(question.conversation_id, turns)
            if question.new_conversation:
                return Memory(None, [])
            return await self._answers.memory(
                question.channel_id,
                question.user_id,
                limit=settings.memory_turns,
                max_age=dt.timedelta(minutes=settings.memory_max_age_minutes),
                private=private,
            )

        async def references(here: QuestionSettings) -> ReferenceBlock:
            if self._references is None:
                return ReferenceBlock("", [])
            on = self._references.chosen(here.use_corrections)
            return await self._references.block(question.guild_id, question.text, user_id=question.user_id, force=on)

        async def knowledge(here: QuestionSettings) -> KnowledgeBlock:
            if self._knowledge is None:
                return KnowledgeBlock("", [])
            reader = Reader(
                question.guild_id, question.channel_id, question.user_id, private, question.parent_channel_id
            )
            return await self._knowledge.block(reader, question.text, has_sources=here.has_knowledge)

        async def settings_and_references() -> tuple[QuestionSettings, ReferenceBlock, KnowledgeBlock]:
            here = await self._guilds.for_question(question.guild_id, _channels(question))  # one read
            block, passages = await asyncio.gather(references(here), knowledge(here))
            return here, block, passages

        # Independent look-ups, at once: the time to the model's first token is what a voice turn waits for.
        remembered, (here, block, passages) = await asyncio.gather(memory(), settings_and_references())
        chosen = here.active_model or self._settings.default_model
        system_prompt = here.persona.prompt if here.persona is not None else self._settings.system_prompt
        model = await self._instead_of(question.guild_id, chosen)
        turns = remembered.turns
        conversation_id = remembered.conversation_id or new_conversation_id()
        if question.images and not settings.takes_images(model):
            raise InvalidInput(
                _("The model answering here (`{model}`) does not take pictures. Ask in words instead.", model=model)
            )
        # The references have their own budget, on top of the conversation's; corrections come before passages.
        given = "\n\n".join(t for t in (block.text, passages.text) if t)
        budget = settings.context_token_budget + estimate_tokens(given)
        messages = fit_context(system_prompt, turns, question.text, budget, references=given)
        messages[-1] = attrs.evolve(messages[-1], images=tuple(i.data_url for i in question.images))
        stream = ChatStream(deltas=_no_deltas())
        reply = Reply(
            question,
            model,
            conversation_id,
            messages,
            stream,
            self._answers,
            used_corrections=block.ids,
            system_prompt=system_prompt,
            replaced=chosen if chosen != model else None,
            citations=passages.citations,
        )
        stream.deltas = self._answer_deltas(reply, stream, messages)
        return reply

    def outage(self, model: str) -> Outage | None:
        """Whether `model` was found missing at the provider (for /model show)."""
        return self._outages.outage(model)


def _channels(question: Question) -> list[int]:
    """Where a question's persona is looked for, first to last (then the server's)."""
    return [c for c in (question.channel_id, question.parent_channel_id) if c is not None]


async def _no_deltas() -> AsyncIterator[Delta]:
    return
    yield
