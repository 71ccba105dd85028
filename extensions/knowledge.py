"""/knowledge: admins add channels, threads and files the bot answers from, list, re-read and remove them."""

from __future__ import annotations

import time

import hikari
import lightbulb

from bot.discord.attachments import shown_name
from bot.discord.checks import GUILD_ONLY, admin_only, guild_of
from bot.discord.knowledge import KnowledgeReader
from bot.errors import InvalidInput, NotFound
from bot.i18n import N_, _, pgettext
from bot.store.knowledge import KnowledgeSource, KnowledgeStore

loader = lightbulb.Loader()
group = lightbulb.Group("knowledge", N_("Channels and files the bot answers from"), localize=True, contexts=GUILD_ONLY)
ADMIN = admin_only(N_("manage the bot's knowledge sources"))
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
        f"<#{source.channel_id}>" + (" " + _("(pinned messages)") if source.pinned_only else "")
        if source.kind == "channel"
        else f"`{shown_name(source.filename or '')}`"
    )
    return f"**#{source.id}** {source.label} — {what}, " + _("{count} passages", count=f"{source.passages:,}")


@group.register
class Add(
    lightbulb.SlashCommand,
    name="add",
    description=N_("Answer from a channel, thread or file (admins)"),
    localize=True,
    hooks=[ADMIN],
):
    channel = lightbulb.channel(
        "channel", N_("A text channel or thread to read"), localize=True, channel_types=SOURCE_CHANNELS, default=None
    )
    file = lightbulb.attachment("file", N_("Or a Markdown, plain-text or PDF file"), localize=True, default=None)
    pinned_only = lightbulb.boolean(
        "pinned_only", N_("Only the channel's pinned messages"), localize=True, default=False
    )
    label = lightbulb.string("label", N_("What to call it in citations"), localize=True, max_length=100, default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, reader: KnowledgeReader = lightbulb.di.INJECTED) -> None:
        guild_id = guild_of(ctx)
        if (self.channel is None) == (self.file is None):
            raise InvalidInput(_("Give either a channel (or thread) or a file."))
        if self.file is not None:
            reader.check_file(self.file)  # before anything is downloaded
            shown = await ctx.respond(_("📄 Reading `{name}`…", name=shown_name(self.file.filename)), ephemeral=True)
            label = self.label or self.file.filename
            source, count = await reader.add_file(guild_id, self.file, label=label[:100], added_by=ctx.user.id)
            await ctx.edit_response(
                shown,
                _(
                    "✅ Added source #{id} {label}: {count} passages.",
                    id=source.id,
                    label=source.label,
                    count=f"{count:,}",
                ),
            )
            return
        assert self.channel is not None
        channel = self.channel
        label = self.label or (f"#{channel.name}" if channel.name else pgettext("source label", "channel"))
        await reader.check_channel(guild_id, int(channel.id), pinned_only=self.pinned_only)
        shown = await ctx.respond(_("📖 Reading <#{channel_id}>…", channel_id=channel.id), ephemeral=True)
        last = time.monotonic()

        async def progress(read: int) -> None:
            nonlocal last
            if time.monotonic() - last < PROGRESS_EVERY_S:
                return
            last = time.monotonic()
            await ctx.edit_response(
                shown,
                _("📖 Reading <#{channel_id}>… {count} messages so far.", channel_id=channel.id, count=f"{read:,}"),
            )

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
            _(
                "✅ Added source #{id} {label}: read {count} messages of <#{channel_id}>.",
                id=source.id,
                label=source.label,
                count=f"{result.messages:,}",
                channel_id=channel.id,
            ),
        )


@group.register
class List(
    lightbulb.SlashCommand,
    name="list",
    description=N_("The knowledge sources of this server (admins)"),
    localize=True,
    hooks=[ADMIN],
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, store: KnowledgeStore = lightbulb.di.INJECTED) -> None:
        guild_id = guild_of(ctx)
        sources = await store.sources(guild_id)
        if not sources:
            await ctx.respond(_("No knowledge sources yet. Add one with `/knowledge add`."), ephemeral=True)
            return
        lines = [describe(s) for s in sources]
        text = "\n".join(lines)
        if len(text) > 1900:
            text = text[:1900].rsplit("\n", 1)[0] + "\n…"
        await ctx.respond(text, ephemeral=True)


@group.register
class Remove(
    lightbulb.SlashCommand,
    name="remove",
    description=N_("Stop answering from a source (admins)"),
    localize=True,
    hooks=[ADMIN],
):
    source = lightbulb.integer("source", N_("The source's number (see /knowledge list)"), localize=True, min_value=1)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, reader: KnowledgeReader = lightbulb.di.INJECTED) -> None:
        guild_id = guild_of(ctx)
        if not await reader.remove(guild_id, self.source):
            raise NotFound(_("This server has no knowledge source #{id}.", id=self.source))
        await ctx.respond(_("🗑️ Source #{id} and all its passages are removed.", id=self.source), ephemeral=True)


@group.register
class Sync(
    lightbulb.SlashCommand,
    name="sync",
    description=N_("Re-read a channel source now (admins)"),
    localize=True,
    hooks=[ADMIN],
):
    source = lightbulb.integer("source", N_("The source's number (see /knowledge list)"), localize=True, min_value=1)

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
            raise NotFound(_("This server has no knowledge source #{id}.", id=self.source))
        if source.kind != "channel":
            raise InvalidInput(_("A file source does not change: remove it and add the new file."))
        shown = await ctx.respond(_("🔄 Re-reading source #{id}…", id=source.id), ephemeral=True)
        result = await reader.sync(source)
        await ctx.edit_response(
            shown,
            _(
                "🔄 Source #{id}: read {messages} messages, {changed} new or edited, {removed} gone.",
                id=source.id,
                messages=f"{result.messages:,}",
                changed=f"{result.changed:,}",
                removed=f"{result.removed:,}",
            ),
        )


loader.command(group)
