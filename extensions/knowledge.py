"""/knowledge: admins add channels, threads and files the bot answers from, list, re-read and remove them."""

from __future__ import annotations

import time

import hikari
import lightbulb

from bot.discord.attachments import shown_name
from bot.discord.checks import GUILD_ONLY, admin_only, guild_of
from bot.discord.knowledge import KnowledgeReader
from bot.errors import InvalidInput, NotFound
from bot.store.knowledge import KnowledgeSource, KnowledgeStore

loader = lightbulb.Loader()
group = lightbulb.Group("knowledge", "Channels and files the bot answers from", contexts=GUILD_ONLY)
ADMIN = admin_only("manage the bot's knowledge sources")
PROGRESS_EVERY_S = 2.0
SOURCE_CHANNELS = [
    hikari.ChannelType.GUILD_TEXT,
    hikari.ChannelType.GUILD_NEWS,
    hikari.ChannelType.GUILD_PUBLIC_THREAD,
    hikari.ChannelType.GUILD_PRIVATE_THREAD,
    hikari.ChannelType.GUILD_NEWS_THREAD,
]


def describe(source: KnowledgeSource) -> str:
    what = (
        f"<#{source.channel_id}>" + (" (pinned messages)" if source.pinned_only else "")
        if source.kind == "channel"
        else f"`{shown_name(source.filename or '')}`"
    )
    return f"**#{source.id}** {source.label} — {what}, {source.passages:,} passages"


@group.register
class Add(
    lightbulb.SlashCommand, name="add", description="Answer from a channel, thread or file (admins)", hooks=[ADMIN]
):
    channel = lightbulb.channel(
        "channel", "A text channel or thread to read", channel_types=SOURCE_CHANNELS, default=None
    )
    file = lightbulb.attachment("file", "Or a Markdown, plain-text or PDF file", default=None)
    pinned_only = lightbulb.boolean("pinned_only", "Only the channel's pinned messages", default=False)
    label = lightbulb.string("label", "What to call it in citations", max_length=100, default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, reader: KnowledgeReader = lightbulb.di.INJECTED) -> None:
        guild_id = guild_of(ctx)
        if (self.channel is None) == (self.file is None):
            raise InvalidInput("Give either a channel (or thread) or a file.")
        if self.file is not None:
            reader.check_file(self.file)  # before anything is downloaded
            shown = await ctx.respond(f"📄 Reading `{shown_name(self.file.filename)}`…", ephemeral=True)
            label = self.label or self.file.filename
            source, count = await reader.add_file(guild_id, self.file, label=label[:100], added_by=ctx.user.id)
            await ctx.edit_response(shown, f"✅ Added source #{source.id} {source.label}: {count:,} passages.")
            return
        assert self.channel is not None
        channel = self.channel
        label = self.label or (f"#{channel.name}" if channel.name else "channel")
        await reader.check_channel(guild_id, int(channel.id), pinned_only=self.pinned_only)
        shown = await ctx.respond(f"📖 Reading <#{channel.id}>…", ephemeral=True)
        last = time.monotonic()

        async def progress(read: int) -> None:
            nonlocal last
            if time.monotonic() - last < PROGRESS_EVERY_S:
                return
            last = time.monotonic()
            await ctx.edit_response(shown, f"📖 Reading <#{channel.id}>… {read:,} messages so far.")

        source, result = await reader.add_channel(
            guild_id,
            int(channel.id),
            pinned_only=self.pinned_only,
            label=str(label)[:100],
            added_by=ctx.user.id,
            progress=progress,
        )
        await ctx.edit_response(
            shown,
            f"✅ Added source #{source.id} {source.label}: read {result.messages:,} messages of <#{channel.id}>.",
        )


@group.register
class List(
    lightbulb.SlashCommand, name="list", description="The knowledge sources of this server (admins)", hooks=[ADMIN]
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, store: KnowledgeStore = lightbulb.di.INJECTED) -> None:
        guild_id = guild_of(ctx)
        sources = await store.sources(guild_id)
        if not sources:
            await ctx.respond("No knowledge sources yet. Add one with `/knowledge add`.", ephemeral=True)
            return
        lines = [describe(s) for s in sources]
        text = "\n".join(lines)
        if len(text) > 1900:
            text = text[:1900].rsplit("\n", 1)[0] + "\n…"
        await ctx.respond(text, ephemeral=True)


@group.register
class Remove(lightbulb.SlashCommand, name="remove", description="Stop answering from a source (admins)", hooks=[ADMIN]):
    source = lightbulb.integer("source", "The source's number (see /knowledge list)", min_value=1)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, reader: KnowledgeReader = lightbulb.di.INJECTED) -> None:
        guild_id = guild_of(ctx)
        if not await reader.remove(guild_id, self.source):
            raise NotFound(f"This server has no knowledge source #{self.source}.")
        await ctx.respond(f"🗑️ Source #{self.source} and all its passages are removed.", ephemeral=True)


@group.register
class Sync(lightbulb.SlashCommand, name="sync", description="Re-read a channel source now (admins)", hooks=[ADMIN]):
    source = lightbulb.integer("source", "The source's number (see /knowledge list)", min_value=1)

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        reader: KnowledgeReader = lightbulb.di.INJECTED,
        store: KnowledgeStore = lightbulb.di.INJECTED,
    ) -> None:
        guild_id = guild_of(ctx)
        source = await store.source(guild_id, self.source)
        if source is None:
            raise NotFound(f"This server has no knowledge source #{self.source}.")
        if source.kind != "channel":
            raise InvalidInput("A file source does not change: remove it and add the new file.")
        shown = await ctx.respond(f"🔄 Re-reading source #{source.id}…", ephemeral=True)
        result = await reader.sync(source)
        await ctx.edit_response(
            shown,
            f"🔄 Source #{source.id}: read {result.messages:,} messages, {result.changed:,} new or edited, "
            f"{result.removed:,} gone.",
        )


loader.command(group)
