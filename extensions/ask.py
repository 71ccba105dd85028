"""/ask, "Ask about this message", and answering mentions, DMs and messages in chat channels."""

from __future__ import annotations

import hikari
import lightbulb
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.asked_messages import asked_message, pictures_read
from bot.discord.asking_about import QUESTION, about_form, question_about, quoted
from bot.discord.forms import submitted
from bot.discord.handlers import Handlers
from bot.discord.heard_messages import heard_question, tell_error
from bot.discord.language import guild_locale
from bot.discord.permissions import require_reading
from bot.discord.pictures import picture_attachments
from bot.discord.replies import Asker, ChannelTarget, InteractionTarget
from bot.discord.settings import DiscordSettings
from bot.discord.threads import ConversationThreads
from bot.discord.voice_rooms import VoiceRooms, caller_channel
from bot.errors import AfterAnswer, InvalidInput
from bot.i18n import N_, _, use_language
from bot.llm.answering import Answerer
from bot.llm.settings import LLMSettings
from bot.speech.tts import SpeechEngine

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)


@loader.command
class Ask(lightbulb.SlashCommand, name="ask", description=N_("Ask the bot a question"), localize=True):
    question = lightbulb.string(
        "question", N_("What you want to know"), localize=True, min_length=1, max_length=6000, default=None
    )
    audio = lightbulb.attachment(
        "audio", N_("Or ask out loud: a recording of your question"), localize=True, default=None
    )
    image = lightbulb.attachment(
        "image", N_("A picture to ask about (PNG, JPEG, WEBP or GIF)"), localize=True, default=None
    )
    private = lightbulb.boolean("private", N_("Only you see the answer"), localize=True, default=False)
    speak = lightbulb.boolean("speak", N_("Also send the answer as spoken audio"), localize=True, default=False)
    new_conversation = lightbulb.boolean(
        "new_conversation",
        N_("Start afresh: forget your earlier questions in this channel"),
        localize=True,
        default=False,
    )
    thread = lightbulb.boolean(
        "thread", N_("Go on in a thread: every message there continues this"), localize=True, default=False
    )

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        asker: Asker = lightbulb.di.INJECTED,
        rooms: VoiceRooms = lightbulb.di.INJECTED,
        speech: SpeechEngine = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        if self.question is None and self.audio is None:
            raise InvalidInput(_("Ask something: type a `question` or attach `audio`."))
        pictures = [self.image] if self.image is not None else []
        # Acknowledge first: Discord gives 3 s, and the model may take longer than that to say anything. Answers in
        # progress wait meanwhile, so a burst of questions is acknowledged before answer work takes the loop.
        with asker.acknowledging():
            await asker.admit(ctx.user.id, self.audio, pictures)  # before acknowledging, downloading or transcribing
            await ctx.defer(ephemeral=self.private)
        answer = await asker.reply(
            InteractionTarget(ctx.interaction, ephemeral=self.private),
            guild_id=ctx.guild_id,
            channel_id=ctx.channel_id,
            user_id=ctx.user.id,
            typed=self.question or "",
            audio=self.audio,
            route="slash",
            private=self.private,
            new_conversation=self.new_conversation,
            pictures=pictures,
        )
        if answer is None:
            return
        if self.thread or ctx.channel_id in discord.thread_channels:
            await asker.open_thread(answer)
        room = rooms.get(ctx.guild_id)
        listening = room is not None and caller_channel(ctx.client.app, room.guild_id, ctx.user.id) == room.channel_id
        # Spoken where the asker listens (in the background); a private answer is never read out to the room.
        if room is not None and listening and not self.private:
            rooms.say(room.guild_id, answer.answer)
            return
        if self.speak:
            try:
                spoken = await speech.synthesize(answer.answer, None)
                name = f"answer-{answer.id}.{spoken.extension}"
                await ctx.respond(
                    attachment=hikari.Bytes(spoken.data, name, mimetype=spoken.mime), ephemeral=self.private
                )
            except Exception as exc:
                raise AfterAnswer(exc) from exc


@loader.listener(hikari.MessageCreateEvent)
async def on_message(
    event: hikari.MessageCreateEvent,
    asker: Asker = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
    threads: ConversationThreads = lightbulb.di.INJECTED,
) -> None:
    """Answer a message that mentions the bot, arrives in a DM, is posted in a configured chat channel, or goes on
    in a thread the bot opened."""
    heard = await heard_question(event, discord, threads)
    if heard is None:
        return
    message, rest = event.message, event.app.rest
    # A message carries no locale: in a server, the server's language; in a DM, English.
    use_language(await guild_locale(event.app, message.guild_id))
    try:
        await asker.admit(message.author.id, heard.audio, heard.pictures)
        await rest.trigger_typing(message.channel_id)
        await asker.reply(
            ChannelTarget(rest, message.channel_id, reply_to=message.id),
            guild_id=message.guild_id,
            channel_id=message.channel_id,
            user_id=message.author.id,
            typed=heard.text,
            audio=heard.audio,
            route=heard.route,
            pictures=heard.pictures,
            thread=heard.thread,
        )
    except Exception as exc:  # one error path: a short reply; unexpected errors are logged with an id
        await tell_error(rest, message, exc)


@loader.command
class AskAboutThisMessage(
    lightbulb.MessageCommand,
    name=N_("Ask about this message"),
    description="",
    localize=True,
    contexts=[hikari.ApplicationContextType.GUILD],
):
    """On any message, under Apps: a short form for the question, answered with that message as context."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        require_reading(ctx.member)
        if self.target.flags & hikari.MessageFlag.EPHEMERAL:  # shown to the caller alone: Discord keeps no copy to read
            raise InvalidInput(_("That message is only shown to you. Ask with `/ask private: True` instead."))
        if not (self.target.content or "").strip() and not picture_attachments(self.target):
            raise InvalidInput(_("That message has no text or pictures to ask about."))
        await ctx.respond_with_modal(
            _("Ask about this message"), keys.custom_id(keys.ASK_ABOUT_MODAL, self.target.id), components=about_form()
        )


@handlers.modal(keys.ASK_ABOUT_MODAL)
async def on_ask_about(
    ctx: yuyo.ModalContext,
    asker: Asker = lightbulb.di.INJECTED,
    answerer: Answerer = lightbulb.di.INJECTED,
    llm: LLMSettings = lightbulb.di.INJECTED,
) -> None:
    interaction = ctx.interaction
    # The form's id is as untrusted as any: the message is read from the channel the member acts in, if they may.
    require_reading(interaction.member)
    (message_id,) = keys.ids(ctx.id_metadata, 1)
    question = submitted(interaction).get(QUESTION, "").strip()
    if not question:
        raise InvalidInput(_("Write a question about the message."))
    message = await asked_message(interaction.app.rest, interaction.channel_id, message_id)
    pictures = await pictures_read(answerer, message, llm.max_images, interaction.guild_id)
    with asker.acknowledging():
        await asker.admit(interaction.user.id, None, pictures)
        await ctx.defer(ephemeral=False)
    await asker.reply(
        InteractionTarget(interaction),
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        user_id=interaction.user.id,
        typed=question_about(message, question, len(pictures)),
        audio=None,
        route="slash",
        pictures=pictures,
        quote=quoted(message, question, interaction.user),
    )
