"""/model: which model answers in this server; admins switch it (to a fine-tuned one, say) and roll back, test
models on the held-out questions, and turn corrections on or off."""

from __future__ import annotations

import lightbulb
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.checks import GUILD_ONLY, admin_only, guild_of
from bot.discord.choices import name_choices
from bot.discord.handlers import Handlers
from bot.discord.model_choice import model_status, models_named, roll_back, set_corrections, switch_to
from bot.discord.model_test_runs import show_items_page, start_and_run, upload_or_remove
from bot.discord.permissions import require_admin
from bot.discord.settings import DiscordSettings
from bot.evaluation.choosing import models_to_compare
from bot.evaluation.eval_sets import EvalSets
from bot.evaluation.model_test import EvalRequest, ModelTester
from bot.evaluation.settings import EvaluationSettings
from bot.i18n import N_
from bot.llm.answering import Answerer
from bot.llm.settings import LLMSettings
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore
from bot.store.model_tests import ModelTestStore

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)
group = lightbulb.Group("model", N_("Which model answers in this server"), localize=True, contexts=GUILD_ONLY)
TESTING = N_("test models")
SWITCH, TEST = admin_only(N_("switch models")), admin_only(TESTING)


async def model_choices(
    ctx: lightbulb.AutocompleteContext[str],
    jobs: JobStore = lightbulb.di.INJECTED,
    llm: LLMSettings = lightbulb.di.INJECTED,
) -> None:
    typed = str(ctx.focused.value or "")
    await ctx.respond(name_choices(await models_named(jobs, llm, ctx.interaction.guild_id, typed)))


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
        await ctx.respond(await model_status(guilds, llm, answerer, ctx.guild_id), ephemeral=True)


@group.register
class Use(
    lightbulb.SlashCommand,
    name="use",
    description=N_("Switch this server to another model (admins)"),
    localize=True,
    hooks=[SWITCH],
):
    name = lightbulb.string("name", N_("The model"), localize=True, autocomplete=model_choices, max_length=200)

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        guilds: GuildSettingsStore = lightbulb.di.INJECTED,
        jobs: JobStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
    ) -> None:
        await ctx.respond(await switch_to(guilds, jobs, llm, guild_of(ctx), self.name, by=ctx.user.id))


@group.register
class Rollback(
    lightbulb.SlashCommand,
    name="rollback",
    description=N_("Return to the previous model (admins)"),
    localize=True,
    hooks=[SWITCH],
):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        guilds: GuildSettingsStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
    ) -> None:
        await ctx.respond(await roll_back(guilds, llm, guild_of(ctx), ctx.user.id))


@group.register
class Test(
    lightbulb.SlashCommand,
    name="test",
    description=N_("Score two models on the test questions (admins)"),
    localize=True,
    hooks=[TEST],
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
    ) -> None:
        guild_id = guild_of(ctx)
        model, against = await models_to_compare(jobs, guilds, llm, guild_id, model=self.model, against=self.against)
        ask = EvalRequest(guild_id, model, against, self.with_corrections, requested_by=ctx.user.id)
        await start_and_run(ctx, tester, tests, ask, testing.progress_interval_s)


@handlers.button(keys.TEST_ITEMS)
@handlers.button(keys.TEST_PAGE)
async def on_test_page(
    ctx: yuyo.ComponentContext,
    tests: ModelTestStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    await show_items_page(ctx, tests, require_admin(ctx.interaction, discord, TESTING))


@group.register
class TestSet(
    lightbulb.SlashCommand,
    name="testset",
    description=N_("Upload this server's test questions, or remove them (admins)"),
    localize=True,
    hooks=[TEST],
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
    ) -> None:
        await upload_or_remove(ctx, sets, tests, guild_of(ctx), self.data, remove=self.remove)


@group.register
class Corrections(
    lightbulb.SlashCommand,
    name="corrections",
    description=N_("Give answers the approved corrections"),
    localize=True,
    hooks=[SWITCH],
):
    state = lightbulb.string(
        "state",
        N_("on or off"),
        localize=True,
        choices=[lightbulb.Choice(N_("on"), "on", localize=True), lightbulb.Choice(N_("off"), "off", localize=True)],
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, guilds: GuildSettingsStore = lightbulb.di.INJECTED) -> None:
        await ctx.respond(await set_corrections(guilds, guild_of(ctx), on=self.state == "on"))


loader.command(group)
