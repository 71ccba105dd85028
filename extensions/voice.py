"""/voice join|leave|status: talk with the bot in a voice channel. It leaves by itself when left alone."""

from __future__ import annotations

import hikari
import lightbulb

from bot.conversation.settings import ConversationSettings
from bot.discord.checks import GUILD_ONLY, guild_of
from bot.discord.permissions import is_admin, role_names
from bot.discord.settings import DiscordSettings
from bot.discord.voice_rooms import Caller, VoiceRooms, caller_channel, check_join, check_leave, humans_in, status_embed
from bot.errors import InvalidInput
from bot.i18n import N_, _

loader = lightbulb.Loader()
group = lightbulb.Group("voice", N_("Talk with the bot in a voice channel"), localize=True, contexts=GUILD_ONLY)
VOICE_TYPES = [hikari.ChannelType.GUILD_VOICE]


def caller_of(ctx: lightbulb.Context, discord: DiscordSettings) -> Caller:
    guild_id, app = guild_of(ctx), ctx.client.app
    admin = is_admin(ctx.member, discord, role_names(app, guild_id), guild_id)
    roles = [int(r) for r in ctx.member.role_ids] if ctx.member is not None else []
    return Caller(ctx.user.id, roles, admin, caller_channel(app, guild_id, ctx.user.id))


@group.register
class Join(
    lightbulb.SlashCommand,
    name="join",
    description=N_("Join your voice channel (or the one named) and listen"),
    localize=True,
):
    channel = lightbulb.channel(
        "channel", N_("Which voice channel (default: yours)"), localize=True, channel_types=VOICE_TYPES, default=None
    )

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        rooms: VoiceRooms = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
        conversation: ConversationSettings = lightbulb.di.INJECTED,
    ) -> None:
        if ctx.guild_id is None:
            raise InvalidInput(_("Voice channels are in servers: run this in one."))
        app = ctx.client.app
        caller = caller_of(ctx, discord)
        target = int(self.channel.id) if self.channel is not None else caller.in_channel
        if target is None:
            raise InvalidInput(_("Join a voice channel first, or name one with `channel`."))
        check_join(app, rooms, ctx.guild_id, target, caller)
        await ctx.defer(ephemeral=True)
        await rooms.join(ctx.guild_id, target)
        rooms.people_changed(ctx.guild_id, humans_in(app, ctx.guild_id, target))
        how = (
            _("Just talk.")
            if conversation.addressing == "all"
            else _("Say my name ({names}).", names=", ".join(conversation.names))
        )
        await ctx.interaction.edit_initial_response(
            _("🎧 Listening in <#{target}>. {how} `/voice leave` when you're done.", target=target, how=how)
        )


@group.register
class Leave(lightbulb.SlashCommand, name="leave", description=N_("Leave the voice channel"), localize=True):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        rooms: VoiceRooms = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        room = rooms.get(ctx.guild_id)
        if ctx.guild_id is None or room is None:
            raise InvalidInput(_("I'm not in a voice channel here."))
        check_leave(room, caller_of(ctx, discord))
        await rooms.leave(ctx.guild_id)
        await ctx.respond(_("👋 Left the voice channel."), ephemeral=True)


@group.register
class Status(
    lightbulb.SlashCommand, name="status", description=N_("Voice connection, privacy code, who is heard"), localize=True
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, rooms: VoiceRooms = lightbulb.di.INJECTED) -> None:
        room = rooms.get(ctx.guild_id)
        if room is None:
            raise InvalidInput(_("I'm not in a voice channel here. `/voice join` brings me in."))
        await ctx.respond(embed=status_embed(room), ephemeral=True)


@loader.listener(hikari.VoiceStateUpdateEvent)
async def on_voice_state(event: hikari.VoiceStateUpdateEvent, rooms: VoiceRooms = lightbulb.di.INJECTED) -> None:
    """Track who is left in the bot's channel, to leave when nobody is."""
    room = rooms.get(event.guild_id)
    if room is not None:
        rooms.people_changed(room.guild_id, humans_in(event.app, room.guild_id, room.channel_id))
        if (
            event.old_state is not None
            and event.old_state.channel_id == room.channel_id
            and (event.state.channel_id != room.channel_id)
        ):
            room.conversation.user_left(int(event.state.user_id))


loader.command(group)
