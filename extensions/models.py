"""/model: which model answers in this server; admins switch it (to a fine-tuned one, say) and roll back, test
models on the held-out questions, and turn corrections on or off."""

from __future__ import annotations

import asyncio

import hikari
import lightbulb
import yuyo

from bot.discord import attachments
from bot.discord import custom_ids as keys
from bot.discord.choices import name_choices
from bot.discord.handlers import Handlers
from bot.discord.model_tests import (
    ProgressEdits,
    item_page,
    items_button,
    model_test_in_guild,
    refusal_text,
    scorecard_embed,
    start_text,
)
from bot.discord.permissions import channel_permissions, require_admin
from bot.discord.settings import DiscordSettings
from bot.discord.training import DATASET_EXTENSIONS, DATASET_TYPES
from bot.errors import InvalidInput, NotFound, OverLimit
from bot.evaluation.choosing import known_models, models_to_compare
from bot.evaluation.eval_sets import EvalSets
from bot.evaluation.model_test import EvalRefusal, EvalRequest, ModelTester
from bot.evaluation.scorecard import scorecard
from bot.evaluation.settings import EvaluationSettings
from bot.i18n import N_, _
from bot.llm.answering import Answerer
from bot.llm.retirements import shutdown_of
from bot.llm.settings import LLMSettings
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore
from bot.store.model_tests import ModelTestStore

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)
group = lightbulb.Group("model", N_("Which model answers in this server"), localize=True)
SWITCH = N_("switch models")
TEST = N_("test models")


async def model_choices(
    ctx: lightbulb.AutocompleteContext[str],
    jobs: JobStore = lightbulb.di.INJECTED,
    llm: LLMSettings = lightbulb.di.INJECTED,
) -> None:
    typed = str(ctx.focused.value or "").lower()
    names = [m for m in await known_models(jobs, llm, ctx.interaction.guild_id) if typed in m.lower()]
    await ctx.respond(name_choices(names))


@group.register
class Show(lightbulb.SlashCommand, name="show", description=N_("The model answering in this server"), localize=True):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        guilds: GuildSettingsStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
        answerer: Answerer = lightbulb.di.INJECTED,
    ) -> None:
        active = await guilds.active_model(ctx.guild_id)
        text = (
            _("This server uses `{model}`.", model=active)
            if active
            else _("This server uses the default model, `{model}`.", model=llm.default_model)
        )
        chosen = active or llm.default_model
        if answerer.outage(chosen) is not None:
            instead = await answerer.model_for(ctx.guild_id)
            stand_in = (
                _("`{model}` answers instead", model=instead) if instead != chosen else _("no other model could answer")
            )
            text += "\n" + _(
                "⚠️ The provider says `{model}` does not exist (retired, deleted, or a fine-tune shut down): "
                "{stand_in}, and it is tried again now and then. `/model use` moves this server for good.",
                model=chosen,
                stand_in=stand_in,
            )
        if (shutdown := shutdown_of(chosen, llm.shutdowns)) is not None:
            text += "\n" + _("📅 `{model}` shuts down on {date}.", model=chosen, date=f"{shutdown.date:%Y-%m-%d}")
        await ctx.respond(text, ephemeral=True)


@group.register
class Use(
    lightbulb.SlashCommand, name="use", description=N_("Switch this server to another model (admins)"), localize=True
):
    name = lightbulb.string("name", N_("The model"), localize=True, autocomplete=model_choices, max_length=200)

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        guilds: GuildSettingsStore = lightbulb.di.INJECTED,
        jobs: JobStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, discord, SWITCH)
        assert ctx.guild_id is not None
        name = self.name.strip()
        if name not in await known_models(jobs, llm, ctx.guild_id):
            raise NotFound(
                _("`{model}` is neither a configured model nor one of this server's fine-tuned models.", model=name)
            )
        await guilds.set_active_model(ctx.guild_id, name, ctx.user.id)
        await ctx.respond(
            _("✅ This server now uses `{model}`. `/model rollback` returns to the previous one.", model=name)
        )


@group.register
class Rollback(
    lightbulb.SlashCommand, name="rollback", description=N_("Return to the previous model (admins)"), localize=True
):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        guilds: GuildSettingsStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, discord, SWITCH)
        assert ctx.guild_id is not None
        has_history, previous = await guilds.previous_model(ctx.guild_id)
        if not has_history:
            raise InvalidInput(_("This server has never switched models, so there is nothing to roll back to."))
        await guilds.set_active_model(ctx.guild_id, previous, ctx.user.id)
        shown = f"`{previous}`" if previous else _("the default model, `{model}`", model=llm.default_model)
        await ctx.respond(_("↩️ This server is back on {model}.", model=shown))


@group.register
class Test(
    lightbulb.SlashCommand,
    name="test",
    description=N_("Score two models on the test questions (admins)"),
    localize=True,
):
    model = lightbulb.string(
        "model", N_("Model to test (default: this server's)"), localize=True, autocomplete=model_choices, default=None
    )
    against = lightbulb.string(
        "against",
        N_("Compared with (default: the previous model)"),
        localize=True,
        autocomplete=model_choices,
        default=None,
    )
    with_corrections = lightbulb.boolean(
        "with_corrections", N_("Give both models the relevant approved corrections"), localize=True, default=False
    )

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        *,
        tester: ModelTester = lightbulb.di.INJECTED,
        tests: ModelTestStore = lightbulb.di.INJECTED,
        guilds: GuildSettingsStore = lightbulb.di.INJECTED,
        jobs: JobStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
        testing: EvaluationSettings = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, discord, TEST)
        assert ctx.guild_id is not None
        model, against = await models_to_compare(
            jobs, guilds, llm, ctx.guild_id, model=self.model, against=self.against
        )
        if not (await tester.questions(ctx.guild_id))[1]:
            raise NotFound(_("There are no test questions yet: approve corrections, or upload a test set."))
        ask = EvalRequest(ctx.guild_id, model, against, self.with_corrections, requested_by=ctx.user.id)
        started = await tester.start(ask)
        if isinstance(started, EvalRefusal):
            raise OverLimit(refusal_text(started, ctx.guild_id, sees_channel=_sees(ctx, started)))
        try:
            # In the channel, not ephemeral: another admin's /model test links here while this one runs.
            await ctx.defer()
            message = await ctx.interaction.edit_initial_response(start_text(started))
            await tests.show_in(started.test.id, ctx.channel_id, message.id)
        except BaseException:
            await asyncio.shield(tester.abandon(started))
            raise
        progress = ProgressEdits(ctx.interaction.edit_initial_response, testing.progress_interval_s)
        test = await tester.run_started(started, progress)
        card = scorecard(await tests.items(test.id))
        from bot.evaluation.chart import render_scorecard  # Pillow drawing, imported when first needed

        png = await asyncio.to_thread(render_scorecard, card, model, against)
        embed = scorecard_embed(test, card).set_image(hikari.Bytes(png, f"test-{test.id}.png", mimetype="image/png"))
        await ctx.interaction.edit_initial_response("", embed=embed, components=[items_button(test.id)])


def _sees(ctx: lightbulb.Context, refusal: EvalRefusal) -> bool:
    """Whether the caller may view the channel of the test that is running (else it is not linked)."""
    running = refusal.running
    if running is None or running.channel_id is None or ctx.guild_id is None or ctx.member is None:
        return False
    granted = channel_permissions(
        ctx.client.app, int(ctx.guild_id), running.channel_id, int(ctx.user.id), ctx.member.role_ids
    )
    return granted is not None and bool(granted & hikari.Permissions.VIEW_CHANNEL)


@handlers.button(keys.TEST_ITEMS)
@handlers.button(keys.TEST_PAGE)
async def on_test_page(
    ctx: yuyo.ComponentContext,
    tests: ModelTestStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    interaction = ctx.interaction
    require_admin(interaction.app, interaction.member, interaction.guild_id, discord, TEST)
    opening = interaction.custom_id.startswith(f"{keys.TEST_ITEMS}:")
    offset, test_id = keys.ids(f"0.{ctx.id_metadata}" if opening else ctx.id_metadata, 2)
    embed, components = await item_page(tests, await model_test_in_guild(tests, interaction.guild_id, test_id), offset)
    if opening:  # a page of its own under the scorecard
        await ctx.create_initial_response(embed=embed, components=components, ephemeral=True)
    else:
        await ctx.create_initial_response(
            response_type=hikari.ResponseType.MESSAGE_UPDATE, embeds=[embed], components=components
        )


@group.register
class TestSet(
    lightbulb.SlashCommand,
    name="testset",
    description=N_("Upload this server's test questions, or remove them (admins)"),
    localize=True,
):
    data = lightbulb.attachment("data", N_("A .jsonl or .csv, in the training formats"), localize=True, default=None)
    remove = lightbulb.boolean(
        "remove",
        N_("Remove the uploaded test set: tests go back to the held-out corrections"),
        localize=True,
        default=False,
    )

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        sets: EvalSets = lightbulb.di.INJECTED,
        tests: ModelTestStore = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, discord, TEST)
        assert ctx.guild_id is not None
        if self.remove == (self.data is not None):
            raise InvalidInput(_("Attach a test file, or choose `remove: True` to remove the uploaded one (not both)."))
        if self.data is None:
            count = len(await tests.uploaded_questions(ctx.guild_id))
            await tests.replace_questions(ctx.guild_id, [], ctx.user.id)
            said = (
                _(
                    "🧪 Removed the uploaded test set ({count} questions): tests use the held-out approved "
                    "corrections.",
                    count=count,
                )
                if count
                else _("🧪 There was no uploaded test set: tests use the held-out approved corrections.")
            )
            await ctx.respond(said, ephemeral=True)
            return
        limit = sets.max_upload_bytes
        attachments.check_attachment(
            self.data, max_bytes=limit, extensions=DATASET_EXTENSIONS, media_types=DATASET_TYPES, what=_("a test file")
        )
        await ctx.defer(ephemeral=True)
        fmt = "csv" if attachments.extension(self.data.filename) == "csv" else "jsonl"
        chunks = attachments.chunks(self.data, max_bytes=limit, what=_("the test file"))
        count = await sets.upload(chunks, fmt, ctx.guild_id, ctx.user.id)
        await ctx.interaction.edit_initial_response(
            _(
                "🧪 This server's test set now has {count} questions; `/model test` asks them instead of the held-out "
                "corrections until `/model testset remove: True`.",
                count=count,
            )
        )


@group.register
class Corrections(
    lightbulb.SlashCommand, name="corrections", description=N_("Give answers the approved corrections"), localize=True
):
    state = lightbulb.string(
        "state",
        N_("on or off"),
        localize=True,
        choices=[lightbulb.Choice(N_("on"), "on", localize=True), lightbulb.Choice(N_("off"), "off", localize=True)],
    )

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        guilds: GuildSettingsStore = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, discord, SWITCH)
        assert ctx.guild_id is not None
        await guilds.set_use_corrections(ctx.guild_id, self.state == "on")
        said = (
            _("📚 Approved corrections are now given to the model with each question in this server.")
            if self.state == "on"
            else _("📚 Approved corrections are no longer given to the model with each question in this server.")
        )
        await ctx.respond(said)


loader.command(group)
