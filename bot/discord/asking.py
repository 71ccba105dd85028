"""The shared path from a question to an answer shown in Discord, used by /ask, mentions, DMs and chat channels."""

from __future__ import annotations

import hikari

from bot import keys
from bot.discord.replies import ReplyTarget, StreamedReply
from bot.errors import AfterAnswer, UserError
from bot.llm.answering import Answerer, Question
from bot.store.answers import Answer, AnswerStore


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
