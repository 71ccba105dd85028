"""/ask, and answering mentions, DMs and messages in chat channels."""

from __future__ import annotations

import logging
import re

import hikari
import lightbulb

from bot.app import Services
from bot.discord.asking import answer_question
from bot.discord.errors import describe_error
from bot.discord.hearing import audio_attachment, heard_question
from bot.discord.replies import ChannelTarget, InteractionTarget
from bot.discord.voice_rooms import caller_channel
from bot.errors import AfterAnswer, InvalidInput
from bot.llm.answering import Question
from bot.speech.audio import check_upload

loader = lightbulb.Loader()
_log = logging.getLogger(__name__)


@loader.command
class Ask(lightbulb.SlashCommand, name="ask", description="Ask the bot a question"):
    question = lightbulb.string("question", "What you want to know", min_length=1, max_length=6000, default=None)
    audio = lightbulb.attachment("audio", "Or ask out loud: a recording of your question", default=None)
    private = lightbulb.boolean("private", "Only you see the answer", default=False)
    speak = lightbulb.boolean("speak", "Also send the answer as spoken audio", default=False)
    new_conversation = lightbulb.boolean(
        "new_conversation", "Start afresh: forget your earlier questions in this channel", default=False
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        speech = services.settings.speech
        if self.question is None and self.audio is None:
            raise InvalidInput("Ask something: type a `question` or attach `audio`.")
        if self.audio is not None:  # refuse wrong or oversized files before acknowledging or downloading
            a = self.audio
            check_upload(a.size, a.media_type, a.filename, a.duration, speech)
        services.answerer.admit(ctx.user.id)  # the rate limit comes before any download or transcription
        # Acknowledge first: Discord gives 3 s, and the model may take longer than that to say anything.
        await ctx.defer(ephemeral=self.private)
        text, transcript, prefix = await heard_question(
            services.transcriber, self.audio, self.question or "", speech, ctx.guild_id
        )
        question = Question(
            guild_id=ctx.guild_id,
            channel_id=ctx.channel_id,
            user_id=ctx.user.id,
            text=text,
            source="audio" if transcript is not None else "slash",
            new_conversation=self.new_conversation,
            transcript=transcript,
            private=self.private,
            admitted=True,
        )
        answer = await answer_question(
            services.answerer,
            services.answers,
            question,
            InteractionTarget(ctx.interaction, ephemeral=self.private),
            interval_s=services.settings.llm.edit_interval_s,
            prefix=prefix,
        )
        if answer is None:
            return
        room = services.rooms.get(ctx.guild_id)
        # A private answer is never read out to the room.
        in_room = room is not None and caller_channel(ctx.client.app, room.guild_id, ctx.user.id) == room.channel_id
        if room is not None and in_room and not self.private:
            services.rooms.say(room.guild_id, answer.answer)  # spoken where the asker listens, in the background
            return
        if self.speak:
            try:
                spoken = await services.speech.synthesize(answer.answer, None)
                await ctx.respond(
                    attachment=hikari.Bytes(
                        spoken.data, f"answer-{answer.id}.{spoken.extension}", mimetype=spoken.mime
                    ),
                    ephemeral=self.private,
                )
            except Exception as exc:
                raise AfterAnswer(exc) from exc


def _strip_mention(content: str, bot_id: int) -> str:
    return re.sub(rf"<@!?{bot_id}>", "", content).strip()


@loader.listener(hikari.MessageCreateEvent)
async def on_message(event: hikari.MessageCreateEvent, services: Services = lightbulb.di.INJECTED) -> None:
    """Answer a message that mentions the bot, arrives in a DM, or is posted in a configured chat channel."""
    message = event.message
    if event.author.is_bot or event.author.is_system or message.webhook_id is not None:
        return
    me = event.app.get_me() if isinstance(event.app, hikari.GatewayBot) else None
    if me is None:
        return
    settings = services.settings.discord
    is_dm = message.guild_id is None
    mentions = message.user_mentions_ids
    mentioned = bool(mentions) and me.id in mentions
    if not (mentioned or (is_dm and settings.answer_in_dms) or message.channel_id in settings.chat_channels):
        return
    text = _strip_mention(message.content or "", me.id)
    audio = audio_attachment(message)
    if not text and audio is None:
        return
    rest = event.app.rest
    target = ChannelTarget(rest, message.channel_id, reply_to=message.id)
    try:
        speech = services.settings.speech
        if audio is not None:
            check_upload(audio.size, audio.media_type, audio.filename, audio.duration, speech)
        services.answerer.admit(message.author.id)  # before any download or transcription
        if audio is not None:
            await rest.trigger_typing(message.channel_id)
        text, transcript, prefix = await heard_question(services.transcriber, audio, text, speech, message.guild_id)
        question = Question(
            guild_id=message.guild_id,
            channel_id=message.channel_id,
            user_id=message.author.id,
            text=text,
            source="audio" if transcript is not None else "message",
            transcript=transcript,
            admitted=True,
        )
        await rest.trigger_typing(message.channel_id)
        await answer_question(
            services.answerer,
            services.answers,
            question,
            target,
            interval_s=services.settings.llm.edit_interval_s,
            prefix=prefix,
        )
    except Exception as exc:  # one error path: a short reply; unexpected errors are logged with an id
        notice = describe_error(exc, "message answer")
        try:
            await rest.create_message(message.channel_id, notice, reply=message.id, user_mentions=False)
        except hikari.HTTPError as send_error:
            _log.warning("could not tell %s about an error: %s", message.author.id, send_error)
