"""Knowledge sources from Discord's side: the bot says why it cannot read a channel (the Message Content intent off,
or permissions it lacks), and a channel it knows nothing about is never treated as open to everyone."""

from __future__ import annotations

import hikari

from bot.discord.knowledge import CachedChannelAccess, bot_permission_problem
from bot.i18n import speaking


def bot(intents: hikari.Intents) -> hikari.GatewayBot:
    return hikari.GatewayBot("MTAwMA.fake.token", intents=intents, banner=None, logs=None)


def test_without_the_message_content_intent_the_operator_is_told_how_to_switch_it_on() -> None:
    problem = bot_permission_problem(bot(hikari.Intents.ALL_UNPRIVILEGED), 5, 10)
    assert problem is not None and problem.startswith("I can't read what messages say: the Message Content intent")
    assert "`knowledge_sources = true`" in problem and "Privileged Gateway Intents" in problem


def test_permissions_the_bot_cannot_confirm_are_asked_for_by_name_in_the_members_language() -> None:
    reading = bot(hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.MESSAGE_CONTENT)  # nothing cached yet
    assert bot_permission_problem(reading, 5, 10) == (
        "I need the View Channel and Read Message History permissions in <#10>. Ask an admin."
    )
    with speaking("ru"):
        russian = bot_permission_problem(reading, 5, 10)
    assert russian is not None and "<#10>" in russian and not russian.startswith("I need")


async def test_a_channel_the_bot_knows_nothing_about_is_not_open_to_everyone() -> None:
    access = CachedChannelAccess(bot(hikari.Intents.ALL_UNPRIVILEGED))
    assert not await access.open_to_everyone(5, 10)
    assert await access.parent_of(5, 10) is None  # not a known thread: its own channel
    assert access.channel_or_parent(10) == 10
