"""The shared path from a question to an answer shown in Discord, used by /ask, mentions, DMs and chat channels."""

from __future__ import annotations

import hikari

from bot.discord import custom_ids as keys
from bot.discord.hearing import heard_question
from bot.discord.replies import ReplyTarget, StreamedReply
from bot.errors import AfterAnswer, UserError
from bot.llm.answering import Answerer, Question
from bot.speech.audio import check_upload
from bot.speech.settings import SpeechSettings
from bot.speech.transcribe import Transcriber
from bot.store.answers import Answer, AnswerStore, Source


def correct_button(answer_id: int) -> hikari.api.MessageActionRowBuilder:
    """The persistent Correct button: the answer id travels in the custom id, so it works after a restart."""
    return hikari.impl.MessageActionRowBuilder().add_interactive_button(
        hikari.ButtonStyle.SECONDARY, keys.custom_id(keys.CORRECT_BUTTON, answer_id), label="Correct", emoji="✏️"
    )


async def answer_question(
    answerer: Answerer,
    answers: AnswerStore,
    question: Question,
    target: ReplyTarget,
    *,
    interval_s: float,
    prefix: str = "",
) -> Answer | None:
    """Stream the answer into `target` and store it; None when the model failed after part of it was shown.

    Errors before anything is shown (rate limit, invalid question, provider down) propagate to the caller's error
    path; an error mid-stream keeps the partial text and says the answer was cut off.
    """
    async with answerer.slot():
        reply = await answerer.begin(question)
        shown = StreamedReply(target, interval_s=interval_s, prefix=prefix)
        try:
            text = await shown.follow(reply)  # an empty answer raises ServiceUnavailable at the end of the stream
        except UserError as exc:
            if not shown.message_ids:
                raise
            await shown.finish(f"{reply.text}\n\n⚠️ The answer was cut off: {exc.message}")
            return None
        answer = await reply.save()
        try:
            message_ids = await shown.finish(text, [correct_button(answer.id)])
        except Exception as exc:
            # What was shown stays shown; the stored answer is kept out of memory, since the asker never saw it whole.
            await answers.mark_undelivered(answer.id)
            raise AfterAnswer(exc) from exc
    await answers.set_message_ids(answer.id, [int(m) for m in message_ids])
    return answer


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
        edit_interval_s: float,
    ) -> None:
        self._answerer = answerer
        self._answers = answers
        self._transcriber = transcriber
        self._speech = speech
        self._interval = edit_interval_s

    def admit(self, user_id: int, audio: hikari.Attachment | None) -> None:
        """Refuse a wrong or oversized recording and take the user's rate limit, before anything is downloaded."""
        if audio is not None:
            check_upload(audio.size, audio.media_type, audio.filename, audio.duration, self._speech)
        self._answerer.admit(user_id)

    async def reply(
        self,
        target: ReplyTarget,
        *,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        typed: str,
        audio: hikari.Attachment | None,
        source: Source,
        private: bool = False,
        new_conversation: bool = False,
    ) -> Answer | None:
        """Answer an admitted question (see `admit`) in `target`; None when the model failed after part was shown."""
        text, transcript, prefix = await heard_question(self._transcriber, audio, typed, self._speech, guild_id)
        question = Question(
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            text=text,
            source="audio" if transcript is not None else source,
            new_conversation=new_conversation,
            transcript=transcript,
            private=private,
            admitted=True,
        )
        return await answer_question(
            self._answerer, self._answers, question, target, interval_s=self._interval, prefix=prefix
        )
