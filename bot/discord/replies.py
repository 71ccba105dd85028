"""Answers shown in Discord: the streamed reply (edited at most once per interval, split over several messages when
long), the persistent Correct, 👍 and 👎 buttons, the path from a question to a shown answer for /ask and messages."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Protocol

import attrs
import hikari

from bot.discord import custom_ids as keys
from bot.discord.hearing import heard_question
from bot.discord.message_split import DISCORD_LIMIT, split_message
from bot.discord.pictures import check_pictures, read_pictures
from bot.discord.threads import ConversationThreads
from bot.errors import AfterAnswer, UserError
from bot.i18n import _
from bot.llm.answering import AcknowledgementsFirst, Answerer, Question, Reply
from bot.llm.knowledge import Citation
from bot.llm.settings import LLMSettings
from bot.metrics import AnswerRoute, Metrics
from bot.speech.audio import check_upload
from bot.speech.settings import SpeechSettings
from bot.speech.transcribe import Transcriber
from bot.store.answers import Answer, AnswerStore
from bot.store.threads import BotThread

Components = Sequence[hikari.api.ComponentBuilder]
# The interactions whose response can be deferred, edited and followed up.
RespondingInteraction = hikari.CommandInteraction | hikari.ComponentInteraction | hikari.ModalInteraction


class ReplyTarget(Protocol):
    """Where an answer's messages go: message 0 first, further messages as follow-ups."""

    async def create(self, index: int, content: str, components: Components) -> hikari.Snowflake: ...

    async def edit(self, index: int, message_id: hikari.Snowflake, content: str, components: Components) -> None: ...

    async def delete(self, index: int, message_id: hikari.Snowflake) -> None:
        """Remove a further message (index > 0) the text no longer reaches."""
        ...


class InteractionTarget:
    """Message 0 is the (deferred) interaction response; the rest are follow-ups of the interaction."""

    def __init__(self, interaction: RespondingInteraction, *, ephemeral: bool = False) -> None:
        self._interaction = interaction
        self._flags = hikari.MessageFlag.EPHEMERAL if ephemeral else hikari.MessageFlag.NONE

    async def create(self, index: int, content: str, components: Components) -> hikari.Snowflake:
        if index == 0:
            message = await self._interaction.edit_initial_response(content, components=components)
        else:
            message = await self._interaction.execute(content, components=components, flags=self._flags)
        return message.id

    async def edit(self, index: int, message_id: hikari.Snowflake, content: str, components: Components) -> None:
        if index == 0:
            await self._interaction.edit_initial_response(content, components=components)
        else:
            await self._interaction.edit_message(message_id, content, components=components)

    async def delete(self, index: int, message_id: hikari.Snowflake) -> None:
        await self._interaction.delete_message(message_id)


class ChannelTarget:
    """Message 0 replies to the user's message; the rest follow it in the channel."""

    def __init__(self, rest: hikari.api.RESTClient, channel_id: int, reply_to: int | None) -> None:
        self._rest = rest
        self._channel = channel_id
        self._reply_to = reply_to

    async def create(self, index: int, content: str, components: Components) -> hikari.Snowflake:
        reply = self._reply_to if index == 0 and self._reply_to is not None else hikari.UNDEFINED
        message = await self._rest.create_message(
            self._channel, content, components=components, reply=reply, user_mentions=False, role_mentions=False
        )
        return message.id

    async def edit(self, index: int, message_id: hikari.Snowflake, content: str, components: Components) -> None:
        await self._rest.edit_message(self._channel, message_id, content, components=components)

    async def delete(self, index: int, message_id: hikari.Snowflake) -> None:
        await self._rest.delete_message(self._channel, message_id)


class StreamedReply:
    """Keeps the Discord messages of one answer in step with its text."""

    def __init__(
        self,
        target: ReplyTarget,
        *,
        interval_s: float,
        prefix: str = "",
        limit: int = DISCORD_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._target = target
        self._interval = interval_s
        self._prefix = prefix
        self._limit = limit
        self._clock = clock
        self._shown: list[str] = []
        self._shown_components: list[bool] = []
        self.message_ids: list[hikari.Snowflake] = []
        self._last_update = float("-inf")

    async def follow(self, texts: AsyncIterable[str]) -> str:
        """Show each new text (cumulative) as it comes, at most once per interval; `finish` shows the last one."""
        text = ""
        async for text in texts:
            if self._clock() - self._last_update >= self._interval:
                await self._update(text, ())
        return text

    async def finish(self, text: str, components: Components = ()) -> list[hikari.Snowflake]:
        """Show the final text (and components on the last message); returns the message ids in order."""
        await self._wait_interval()
        await self._update(text, components, final=True)
        return list(self.message_ids)

    async def _wait_interval(self) -> None:
        # Discord's edit rate limit, not synchronisation: keep edits at least one interval apart.
        remaining = self._last_update + self._interval - self._clock()
        if remaining > 0:
            await asyncio.sleep(remaining)

    async def _update(self, text: str, components: Components, *, final: bool = False) -> None:
        # Discord refuses a message of blanks alone (models often open with blank lines): those wait for text.
        chunks = [chunk for chunk in split_message(self._prefix + text, self._limit) if chunk.strip()]
        if not chunks:
            return
        for index, chunk in enumerate(chunks):
            is_last = index == len(chunks) - 1
            chunk_components = components if (final and is_last) else ()
            if index < len(self.message_ids):
                if self._shown[index] != chunk or self._shown_components[index] != bool(chunk_components):
                    await self._target.edit(index, self.message_ids[index], chunk, chunk_components)
                    self._shown[index] = chunk
                    self._shown_components[index] = bool(chunk_components)
            else:
                self.message_ids.append(await self._target.create(index, chunk, chunk_components))
                self._shown.append(chunk)
                self._shown_components.append(bool(chunk_components))
        # The text got shorter (thinking opened in the prompt turned out not to be the answer): what it no longer
        # reaches goes, last first, so nothing once shown as the answer stays.
        while len(self.message_ids) > len(chunks):
            await self._target.delete(len(self.message_ids) - 1, self.message_ids[-1])
            del self.message_ids[-1], self._shown[-1], self._shown_components[-1]
        self._last_update = self._clock()


def answer_buttons(answer_id: int) -> hikari.api.MessageActionRowBuilder:
    """The persistent Correct, 👍 and 👎 buttons: the answer id travels in the custom ids, so they work after a
    restart."""
    return (
        hikari.impl.MessageActionRowBuilder()
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY, keys.custom_id(keys.CORRECT_BUTTON, answer_id), label=_("Correct"), emoji="✏️"
        )
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY, keys.custom_id(keys.VOTE_BUTTON, "up", answer_id), emoji="👍"
        )
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY, keys.custom_id(keys.VOTE_BUTTON, "down", answer_id), emoji="👎"
        )
    )


def used_corrections_line(ids: Sequence[int]) -> str:
    """Under an answer: which approved corrections the model was given (shown, not stored with the answer)."""
    if not ids:
        return ""
    return "\n-# " + _("📚 used corrections {ids}", ids=", ".join(f"#{i}" for i in ids))


def replaced_line(reply: Reply) -> str:
    """Under an answer that another model gave because the server's model no longer exists at the provider."""
    if reply.replaced is None:
        return ""
    return "\n-# " + _(
        "↪️ answered by `{model}`: this server's model `{replaced}` is not available",
        model=reply.model,
        replaced=reply.replaced,
    )


def sources_line(citations: Sequence[Citation], answer: str) -> str:
    """Under an answer: the knowledge passages it drew on (those it cited as [n], else all it was given), with jump
    links to their messages or the file and section."""
    cited = [c for c in citations if f"[{c.number}]" in answer] or list(citations)
    if not cited:
        return ""
    shown: list[str] = []
    for c in cited:
        name = c.label.replace("[", "(").replace("]", ")")
        if c.link is not None:
            shown.append(f"[{c.number}] [{name}](<{c.link}>)")
        else:
            shown.append(f"[{c.number}] {name}" + (f" § {c.section}" if c.section else ""))
    return "\n-# " + _("📖 sources: {sources}", sources=", ".join(shown))


MAX_SHOWN_THINKING = 1000


def thinking_label(seconds: float) -> str:
    return _("🤔 thinking… {seconds} s", seconds=int(seconds))


def spoiler(thinking: str) -> str:
    """The model's thinking, collapsed above the answer (cut short), its pipes and backslashes escaped as Discord's
    markdown reads them: a `||` inside would end the spoiler early, and a backslash at its end would keep it open."""
    text = " ".join(thinking.split())
    if len(text) > MAX_SHOWN_THINKING:
        text = text[: MAX_SHOWN_THINKING - 1] + "…"
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return f"||🤔 {text}||\n\n" if text else ""


async def progress(reply: Reply, *, show_thinking: bool, clock: Callable[[], float]) -> AsyncIterator[str]:
    """What the reply shows while the answer streams: how long the model has been thinking, then the answer."""
    started = clock()
    async for text in reply:
        if text:
            yield (spoiler(reply.thinking) if show_thinking else "") + text
        elif reply.thinking:
            yield thinking_label(clock() - started)


async def after_acknowledgements(acks: AcknowledgementsFirst, texts: AsyncIterable[str]) -> AsyncIterator[str]:
    """`texts`, each passed on once no question is waiting to be acknowledged."""
    async for text in texts:
        await acks.wait()
        yield text


async def answer_question(
    answerer: Answerer,
    answers: AnswerStore,
    question: Question,
    target: ReplyTarget,
    *,
    interval_s: float,
    prefix: str = "",
    clock: Callable[[], float] = time.monotonic,
    on_answer: Callable[[], None] | None = None,
) -> Answer | None:
    """Stream the answer into `target` and store it; None when the model failed after part of it was shown.
    `on_answer` is called once the whole answer is stored, before it is shown with its Correct and vote buttons.

    Errors before anything is shown (rate limit, invalid question, provider down) propagate to the caller's error
    path; an error mid-stream keeps the partial text and says the answer was cut off.
    """
    acks = answerer.acknowledgements  # questions still being acknowledged go first, at every step
    async with answerer.slot():
        await acks.wait()
        reply = await answerer.begin(question)
        shown = StreamedReply(target, interval_s=interval_s, prefix=prefix, clock=clock)
        show_thinking = answerer.shows_thinking(reply.model)
        try:
            # An empty answer (thinking alone included) raises ServiceUnavailable at the end of the stream.
            await shown.follow(after_acknowledgements(acks, progress(reply, show_thinking=show_thinking, clock=clock)))
        except UserError as exc:
            if not shown.message_ids:
                raise
            await shown.finish(f"{reply.text}\n\n" + _("⚠️ The answer was cut off: {problem}", problem=exc.message))
            return None
        text = (spoiler(reply.thinking) if show_thinking else "") + reply.text
        await acks.wait()
        # Stored with the messages shown so far: the last edit seldom adds one, and then nothing more is written.
        answer = await reply.save([int(m) for m in shown.message_ids])
        if on_answer is not None:
            on_answer()
        try:
            await acks.wait()
            message_ids = await shown.finish(
                text
                + used_corrections_line(reply.used_corrections)
                + sources_line(reply.citations, reply.text)
                + replaced_line(reply),
                [answer_buttons(answer.id)],
            )
        except Exception as exc:
            # What was shown stays shown; the stored answer is kept out of memory, since the asker never saw it whole,
            # and no message of it leads to it.
            if answer.message_ids:
                await answers.set_message_ids(answer.id, [])
            await answers.mark_undelivered(answer.id)
            raise AfterAnswer(exc) from exc
    shown_ids = [int(m) for m in message_ids]
    if shown_ids != answer.message_ids:
        await answers.set_message_ids(answer.id, shown_ids)
    return attrs.evolve(answer, message_ids=shown_ids)


class Asker:
    """What /ask and messages (mentions, DMs, chat channels) share: cheap checks first, then what was heard (a
    recording's transcript before any typed text), then the answer streamed into the reply."""

    def __init__(
        self,
        answerer: Answerer,
        answers: AnswerStore,
        transcriber: Transcriber,
        speech: SpeechSettings,
        *,
        llm: LLMSettings,
        threads: ConversationThreads,
        edit_interval_s: float,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._answerer = answerer
        self._answers = answers
        self._transcriber = transcriber
        self._speech = speech
        self._llm = llm
        self._threads = threads
        self._interval = edit_interval_s

    async def admit(
        self, user_id: int, audio: hikari.Attachment | None, pictures: Sequence[hikari.Attachment] = ()
    ) -> None:
        """Refuse a wrong or oversized recording or picture and take the user's rate limit, before anything is
        downloaded."""
        if audio is not None:
            check_upload(audio.size, audio.media_type, audio.filename, audio.duration, self._speech)
        check_pictures(pictures, self._llm)
        await self._answerer.admit(user_id)

    def acknowledging(self) -> contextlib.AbstractContextManager[None]:
        """Held around admitting and acknowledging a question: answers in progress wait until it was acknowledged."""
        return self._answerer.acknowledgements.acknowledging()

    async def reply(
        self,
        target: ReplyTarget,
        *,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        typed: str,
        audio: hikari.Attachment | None,
        route: AnswerRoute,
        private: bool = False,
        new_conversation: bool = False,
        pictures: Sequence[hikari.Attachment] = (),
        thread: BotThread | None = None,
        quote: str = "",
    ) -> Answer | None:
        """Answer an admitted question (see `admit`) in `target`; None when the model failed after part was shown.
        In one of the bot's threads (`thread`), the thread's conversation goes on; `quote` is shown above the answer
        (what a question about a message is about)."""
        if pictures:  # before downloading anything
            await self._answerer.check_takes_images(guild_id)
        text, transcript, prefix = await heard_question(self._transcriber, audio, typed, self._speech, guild_id)
        images = await read_pictures(pictures, self._llm)
        question = Question(
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            text=text,
            source="audio" if transcript is not None else "slash" if route == "slash" else "message",
            new_conversation=new_conversation,
            transcript=transcript,
            private=private,
            admitted=True,
            images=images,
            conversation_id=thread.conversation_id if thread is not None else None,
            parent_channel_id=thread.parent_channel_id if thread is not None else None,
        )
        counted: AnswerRoute = "audio" if transcript is not None else route
        return await answer_question(
            self._answerer,
            self._answers,
            question,
            target,
            interval_s=self._interval,
            prefix=quote + prefix,
            on_answer=lambda: self._metrics.answered(counted),
        )

    async def open_thread(self, answer: Answer) -> BotThread | None:
        """A thread on the answer's first message for the conversation to go on in (not for private or DM answers)."""
        if answer.guild_id is None or answer.private or not answer.message_ids:
            return None
        return await self._threads.open(
            guild_id=answer.guild_id,
            channel_id=answer.channel_id,
            message_id=answer.message_ids[0],
            question=answer.transcript or answer.question,
            conversation_id=answer.conversation_id,
            user_id=answer.user_id,
        )
