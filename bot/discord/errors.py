"""One error path: typed errors become their own short message; anything else is logged with an id shown to the user."""

from __future__ import annotations

import logging
import secrets

from bot.discord.message_split import DISCORD_LIMIT, split_message
from bot.errors import AfterAnswer, UserError
from bot.i18n import _

_log = logging.getLogger(__name__)


def describe_error(exc: BaseException, where: str) -> str:
    """The text a Discord user sees for `exc`. Unexpected errors are logged with an id and only the id is shown."""
    if isinstance(exc, AfterAnswer):
        return describe_error(exc.cause, where)
    if isinstance(exc, UserError):
        # A message quoting what the user gave may be long; Discord would refuse it whole, and they would see nothing.
        return (
            exc.message if len(exc.message) <= DISCORD_LIMIT else split_message(exc.message, DISCORD_LIMIT - 1)[0] + "…"
        )
    error_id = secrets.token_hex(4)
    _log.error("unexpected error %s in %s", error_id, where, exc_info=exc)
    return _(
        "Something went wrong on the bot's side (error id `{error_id}`). An admin can find it in the logs.",
        error_id=error_id,
    )
