"""One pager for every paginated list: ◀ Previous / Next ▶ buttons whose custom ids carry the page's state."""

from __future__ import annotations

import hikari

from bot.discord.custom_ids import custom_id
from bot.i18n import _


def pager_row(
    prefix: str, offset: int, page_size: int, total: int, *state: object
) -> list[hikari.api.MessageActionRowBuilder]:
    """The buttons for the page starting at `offset` (none when everything fits on one page); `state` (filters)
    travels after the offset in both buttons' custom ids."""
    if total <= page_size and offset == 0:
        return []
    row = (
        hikari.impl.MessageActionRowBuilder()
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY,
            custom_id(prefix, max(0, offset - page_size), *state),
            label=_("◀ Previous"),
            is_disabled=offset == 0,
        )
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY,
            custom_id(prefix, offset + page_size, *state),
            label=_("Next ▶"),
            is_disabled=offset + page_size >= total,
        )
    )
    return [row]


def footer(offset: int, page_size: int, total: int) -> str:
    """ "11–20 of 34"."""
    return _("{first}–{last} of {total}", first=offset + 1, last=min(offset + page_size, total), total=total)
