"""/voice join|leave|status: talk with the bot in a voice channel. It leaves by itself when left alone."""

from __future__ import annotations

import statistics

import hikari
import lightbulb

from bot.app import Services
from bot.discord.voice_rooms import caller_channel, humans_in
from bot.errors import InvalidInput

loader = lightbulb.Loader()
group = lightbulb.Group("voice", "Talk with the bot in a voice channel")
VOICE_TYPES = [hikari.ChannelType.GUILD_VOICE]


@group.register
class Join(lightbulb.SlashCommand, name="join", description="Join your voice channel (or the one named) and listen"):
    channel = lightbulb.channel(
        "channel", "Which voice channel (default: yours)", channel_types=VOICE_TYPES, default=None
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        if ctx.guild_id is None:
            raise InvalidInput("Voice channels are in servers: run this in one.")
        app = ctx.client.app
        target = int(self.channel.id) if self.channel is not None else caller_channel(app, ctx.guild_id, ctx.user.id)
        if target is None:
            raise InvalidInput("Join a voice channel first, or name one with `channel`.")
        await ctx.defer(ephemeral=True)
        await services.rooms.join(ctx.guild_id, target)
        services.rooms.people_changed(ctx.guild_id, humans_in(app, ctx.guild_id, target))
        mode = services.settings.conversation.addressing
        how = "Just talk." if mode == "all" else f"Say my name ({', '.join(services.settings.conversation.names)})."
        await ctx.interaction.edit_initial_response(
            f"🎧 Listening in <#{target}>. {how} `/voice leave` when you're done."
        )


@group.register
class Leave(lightbulb.SlashCommand, name="leave", description="Leave the voice channel"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        if ctx.guild_id is None or not await services.rooms.leave(ctx.guild_id):
            raise InvalidInput("I'm not in a voice channel here.")
        await ctx.respond("👋 Left the voice channel.", ephemeral=True)


@group.register
class Status(lightbulb.SlashCommand, name="status", description="Voice connection, privacy code, who is heard"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        room = services.rooms.get(ctx.guild_id)
        if room is None:
            raise InvalidInput("I'm not in a voice channel here. `/voice join` brings me in.")
        status = room.session.status()
        talk = room.conversation.status
        embed = hikari.Embed(title="Voice", color=0x57F287 if status.connected else 0xED4245)
        embed.add_field("Channel", f"<#{status.channel_id}>", inline=True)
        state = "yes" if status.connected else "reconnecting…"
        if status.state == "ended":
            state = f"no — {status.ended_reason}. `/voice join` to try again"
        embed.add_field("Connected", state, inline=True)
        latency = f"{status.latency_ms:.0f} ms" if status.latency_ms is not None else "—"
        embed.add_field("Gateway latency", latency, inline=True)
        embed.add_field("Encryption", f"{status.encryption_mode or '—'}; DAVE v{status.dave_protocol_version}")
        code = status.privacy_code
        shown = " ".join(code[i : i + 5] for i in range(0, len(code), 5)) if code else "not end-to-end encrypted"
        embed.add_field("Voice privacy code", f"`{shown}`")
        heard = sorted(set(status.heard_users) | set(talk.speaking))
        embed.add_field("Hearing", ", ".join(f"<@{u}>" for u in heard) or "nobody right now")
        turns = [t.timings.first_packet_ms for t in talk.recent_turns if t.timings.first_packet_ms is not None]
        if turns:
            embed.add_field(
                "Reply latency (last turns)",
                f"median {statistics.median(turns):.0f} ms over {len(turns)} turn(s), from end of speech to reply",
            )
        await ctx.respond(embed=embed, ephemeral=True)


@loader.listener(hikari.VoiceStateUpdateEvent)
async def on_voice_state(event: hikari.VoiceStateUpdateEvent, services: Services = lightbulb.di.INJECTED) -> None:
    """Track who is left in the bot's channel, to leave when nobody is."""
    room = services.rooms.get(event.guild_id)
    if room is not None:
        services.rooms.people_changed(room.guild_id, humans_in(event.app, room.guild_id, room.channel_id))
        if (
            event.old_state is not None
            and event.old_state.channel_id == room.channel_id
            and (event.state.channel_id != room.channel_id)
        ):
            room.conversation.user_left(int(event.state.user_id))


loader.command(group)
