"""Every command answers in the member's language: a client-wide hook that speaks the interaction's locale."""

from __future__ import annotations

import lightbulb

from bot.i18n import use_language


@lightbulb.hook(lightbulb.ExecutionSteps.MAX_CONCURRENCY, name="member-language")
def speak_member_language(_pipeline: lightbulb.ExecutionPipeline, ctx: lightbulb.Context) -> None:
    """First of all hooks: checks' refusals, the command's replies and its errors are in the member's language."""
    use_language(ctx.interaction.locale)
