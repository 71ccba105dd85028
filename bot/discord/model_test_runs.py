"""A `/model test` from the command's side: started or refused (the running test linked only for those who may see
its channel), run with its progress shown and its scorecard drawn, its question pages; and the uploaded test set
(`/model testset`)."""

from __future__ import annotations

import asyncio

import hikari
import lightbulb
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.dataset_upload import dataset_upload
from bot.discord.model_tests import (
    ProgressEdits,
    item_page,
    items_button,
    model_test_in_guild,
    refusal_text,
    scorecard_embed,
    start_text,
)
from bot.discord.permissions import channel_permissions
from bot.errors import InvalidInput, NotFound, OverLimit
from bot.evaluation.eval_sets import EvalSets
from bot.evaluation.model_test import EvalRefusal, EvalRequest, ModelTester, StartedTest
from bot.evaluation.scorecard import scorecard
from bot.i18n import _
from bot.store.model_tests import ModelTestStore


async def start_test(tester: ModelTester, interaction: hikari.CommandInteraction, ask: EvalRequest) -> StartedTest:
    """The test, recorded as running; refused (OverLimit) while another runs or the server's calls are spent."""
    if not (await tester.questions(ask.guild_id))[1]:
        raise NotFound(_("There are no test questions yet: approve corrections, or upload a test set."))
    started = await tester.start(ask)
    if isinstance(started, EvalRefusal):
        raise OverLimit(refusal_text(started, ask.guild_id, sees_channel=sees_running_test(interaction, started)))
    return started


async def start_and_run(
    ctx: lightbulb.Context, tester: ModelTester, tests: ModelTestStore, ask: EvalRequest, progress_interval_s: float
) -> None:
    """Start the test (or refuse it), post where it runs, then run it there with its progress and scorecard."""
    started = await start_test(tester, ctx.interaction, ask)
    try:
        # In the channel, not ephemeral: another admin's /model test links here while this one runs.
        await ctx.defer()
        message = await ctx.interaction.edit_initial_response(start_text(started))
        await tests.show_in(started.test.id, ctx.channel_id, message.id)
    except BaseException:
        await asyncio.shield(tester.abandon(started))
        raise
    await run_and_show(ctx.interaction, tester, tests, started, progress_interval_s)


def sees_running_test(interaction: hikari.CommandInteraction, refusal: EvalRefusal) -> bool:
    """Whether the caller may view the channel of the test that is running (else it is not linked)."""
    running, member = refusal.running, interaction.member
    if running is None or running.channel_id is None or interaction.guild_id is None or member is None:
        return False
    granted = channel_permissions(
        interaction.app, int(interaction.guild_id), running.channel_id, int(interaction.user.id), member.role_ids
    )
    return granted is not None and bool(granted & hikari.Permissions.VIEW_CHANNEL)


async def run_and_show(
    interaction: hikari.CommandInteraction,
    tester: ModelTester,
    tests: ModelTestStore,
    started: StartedTest,
    progress_interval_s: float,
) -> None:
    """Run a started test, editing the response with its progress, then with the scorecard and its chart."""
    progress = ProgressEdits(interaction.edit_initial_response, progress_interval_s)
    test = await tester.run_started(started, progress)
    card = scorecard(await tests.items(test.id))
    from bot.evaluation.chart import render_scorecard  # Pillow drawing, imported when first needed

    png = await asyncio.to_thread(render_scorecard, card, started.ask.model, started.ask.against)
    embed = scorecard_embed(test, card).set_image(hikari.Bytes(png, f"test-{test.id}.png", mimetype="image/png"))
    await interaction.edit_initial_response("", embed=embed, components=[items_button(test.id)])


async def items_page(
    tests: ModelTestStore, guild_id: int, metadata: str, *, opening: bool
) -> tuple[hikari.Embed, list[hikari.api.MessageActionRowBuilder]]:
    """A page of a test's questions: the first when opened from the scorecard, else the one a pager button names."""
    offset, test_id = keys.ids(f"0.{metadata}" if opening else metadata, 2)
    return await item_page(tests, await model_test_in_guild(tests, guild_id, test_id), offset)


async def show_items_page(ctx: yuyo.ComponentContext, tests: ModelTestStore, guild_id: int) -> None:
    """A page of questions: opened from the scorecard as a page of its own, or turned in place by a pager button."""
    opening = ctx.interaction.custom_id.startswith(f"{keys.TEST_ITEMS}:")
    embed, components = await items_page(tests, guild_id, ctx.id_metadata, opening=opening)
    if opening:  # a page of its own under the scorecard
        await ctx.create_initial_response(embed=embed, components=components, ephemeral=True)
    else:
        await ctx.create_initial_response(
            response_type=hikari.ResponseType.MESSAGE_UPDATE, embeds=[embed], components=components
        )


async def upload_or_remove(
    ctx: lightbulb.Context,
    sets: EvalSets,
    tests: ModelTestStore,
    guild_id: int,
    data: hikari.Attachment | None,
    *,
    remove: bool,
) -> None:
    """`/model testset`: the attached file becomes the server's test set, or the uploaded one is removed."""
    if remove == (data is not None):
        raise InvalidInput(_("Attach a test file, or choose `remove: True` to remove the uploaded one (not both)."))
    upload = dataset_upload(data, max_bytes=sets.max_upload_bytes, what="test file")
    if upload is None:
        await ctx.respond(await remove_test_set(tests, guild_id, ctx.user.id), ephemeral=True)
        return
    await ctx.defer(ephemeral=True)
    count = await sets.upload(upload.chunks(), upload.format, guild_id, ctx.user.id)
    await ctx.interaction.edit_initial_response(uploaded_set_text(count))


async def remove_test_set(tests: ModelTestStore, guild_id: int, user_id: int) -> str:
    """Tests go back to the held-out corrections; says how many uploaded questions went."""
    count = len(await tests.uploaded_questions(guild_id))
    await tests.replace_questions(guild_id, [], user_id)
    if count:
        return _(
            "🧪 Removed the uploaded test set ({count} questions): tests use the held-out approved corrections.",
            count=count,
        )
    return _("🧪 There was no uploaded test set: tests use the held-out approved corrections.")


def uploaded_set_text(count: int) -> str:
    return _(
        "🧪 This server's test set now has {count} questions; `/model test` asks them instead of the held-out "
        "corrections until `/model testset remove: True`.",
        count=count,
    )
