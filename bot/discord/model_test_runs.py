"""A `/model test` from the command's side: started or refused (the running test linked only for those who may see
its channel), run with its progress shown and its scorecard drawn, its question pages; and the uploaded test set."""

from __future__ import annotations

import asyncio

import hikari

from bot.discord import custom_ids as keys
from bot.discord.model_tests import (
    ProgressEdits,
    item_page,
    items_button,
    model_test_in_guild,
    refusal_text,
    scorecard_embed,
)
from bot.discord.permissions import channel_permissions
from bot.errors import NotFound, OverLimit
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
