"""Commands' injected dependencies are worked out once, when the extensions are loaded, not on every invocation."""

from __future__ import annotations

import lightbulb

from bot.discord.injection import resolve_once
from bot.discord.settings import DiscordSettings


class Plain(lightbulb.SlashCommand, name="plain", description="injects settings"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, discord: DiscordSettings = lightbulb.di.INJECTED) -> None:
        del ctx, discord


group = lightbulb.Group("outer", "a group")
inner = group.subgroup("inner", "a subgroup")


@inner.register
class Nested(lightbulb.SlashCommand, name="nested", description="in a subgroup"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        del ctx


def test_every_command_in_groups_too_is_prepared_once_and_each_invocation_takes_it_over() -> None:
    assert resolve_once([Plain, group]) == 2
    assert resolve_once([Plain, group]) == 0  # already prepared
    for command in (Plain, Nested):
        invocation = command.__dict__["invoke"].__get__(object.__new__(command), command)  # what each call binds
        assert "generated=True" in repr(invocation)
