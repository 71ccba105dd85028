"""The command error handler: short ephemeral messages for typed errors, an error id for anything unexpected."""

from __future__ import annotations

import contextlib
import logging

import hikari
import lightbulb

from bot.discord.errors import describe_error
from bot.errors import AfterAnswer
from bot.i18n import use_language

loader = lightbulb.Loader()
_log = logging.getLogger(__name__)


async def tell_user(ctx: lightbulb.Context, message: str, *, answer_shown: bool = False) -> None:
    """Show `message` only to the caller. A public deferred response is replaced, so no "thinking…" is left behind,
    unless it already shows the answer: an answer once shown stays, and the error comes below it."""
    if ctx.initial_response_sent.is_set() and not answer_shown:
        with contextlib.suppress(hikari.NotFoundError):
            await ctx.interaction.delete_initial_response()
    await ctx.respond(message, ephemeral=True)


@loader.error_handler
async def on_command_error(exc: lightbulb.exceptions.ExecutionPipelineFailedException) -> bool:
    cause: BaseException = exc.causes[0] if exc.causes else exc
    use_language(exc.context.interaction.locale)  # also when a hook failed before the language hook ran
    message = describe_error(cause, f"/{exc.context.command_data.qualified_name}")
    try:
        await tell_user(exc.context, message, answer_shown=isinstance(cause, AfterAnswer))
    except hikari.HTTPError as send_error:
        _log.warning("could not show an error to the user: %s", send_error)
    return True
