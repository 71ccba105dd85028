"""The rules commands declare: admin-only and server-only hooks refuse with a short message in the member's language,
and let admins (Manage Server or a configured role) and server commands through."""

from __future__ import annotations

import hikari
import lightbulb
import pytest

from bot.discord.checks import admin_only, guild_of, guild_only
from bot.discord.settings import DiscordSettings
from bot.errors import NotAllowed
from bot.i18n import speaking

PERSONA = "change or view the bot's persona"  # an action the /persona command passes, with its Russian translation
JOBS = "Training jobs belong to a server: run this in one."  # the /jobs refusal, translated too


class Member:
    def __init__(self, permissions: hikari.Permissions, role_ids: list[int]) -> None:
        self.permissions = permissions
        self.role_ids = role_ids


class Interaction:
    def __init__(self, guild_id: int | None, member: Member | None) -> None:
        self.guild_id = None if guild_id is None else hikari.Snowflake(guild_id)
        self.member = member
        self.app = object()  # no cache: configured role ids still count


class Context:
    """What the hooks read from a command's context."""

    def __init__(self, guild_id: int | None, member: Member | None = None) -> None:
        self.interaction = Interaction(guild_id, member)
        self.guild_id = self.interaction.guild_id


PLAIN = hikari.Permissions.SEND_MESSAGES


async def run_admin_only(ctx: Context, settings: DiscordSettings, action: str = PERSONA) -> None:
    hook = admin_only(action)
    await hook.func(object(), ctx, discord=settings)  # type: ignore[call-arg]


async def test_admins_by_manage_server_or_a_configured_role_pass_the_admin_check() -> None:
    settings = DiscordSettings(admin_roles=["42"])
    await run_admin_only(Context(9, Member(PLAIN | hikari.Permissions.MANAGE_GUILD, [])), settings)
    await run_admin_only(Context(9, Member(PLAIN, [42])), settings)


async def test_a_member_without_rights_is_told_who_may_and_how_in_their_language() -> None:
    settings = DiscordSettings(admin_roles=["42"])
    with pytest.raises(NotAllowed) as refused:
        await run_admin_only(Context(9, Member(PLAIN, [7])), settings)
    assert refused.value.message == (
        "Only admins can change or view the bot's persona (Manage Server permission or an admin role: `42`)."
    )
    with speaking("ru"), pytest.raises(NotAllowed) as in_russian:
        await run_admin_only(Context(9, Member(PLAIN, [7])), settings)
    assert in_russian.value.message.startswith("Только админы могут менять или смотреть персону бота")
    assert "`42`" in in_russian.value.message


async def test_with_no_admin_roles_configured_the_refusal_says_none_are() -> None:
    settings = DiscordSettings(admin_roles=[])
    with pytest.raises(NotAllowed) as refused:
        await run_admin_only(Context(9, Member(PLAIN, [42])), settings)
    assert refused.value.message.endswith("an admin role: none configured).")


async def test_the_admin_check_in_a_dm_says_the_action_only_works_in_a_server() -> None:
    with pytest.raises(NotAllowed) as refused:
        await run_admin_only(Context(None), DiscordSettings(admin_roles=["42"]))
    assert refused.value.message == "change or view the bot's persona only works in a server."


def test_each_admin_check_is_named_after_its_action_and_runs_among_the_checks() -> None:
    hook = admin_only(PERSONA)
    assert hook.step == lightbulb.ExecutionSteps.CHECKS
    assert hook.skip_when_failed
    assert hook.name == f"admin_only({PERSONA})"


async def test_a_server_only_command_runs_in_a_server_and_refuses_elsewhere_with_its_own_words() -> None:
    hook = guild_only(JOBS)
    await hook.func(object(), Context(9))  # type: ignore[call-arg]
    with pytest.raises(NotAllowed) as refused:
        await hook.func(object(), Context(None))  # type: ignore[call-arg]
    assert refused.value.message == JOBS
    with speaking("ru"), pytest.raises(NotAllowed) as in_russian:
        await hook.func(object(), Context(None))  # type: ignore[call-arg]
    assert in_russian.value.message == "Задачи обучения принадлежат серверу: запустите это на сервере."


def test_guild_of_gives_the_server_and_refuses_plainly_if_a_command_forgot_its_hook() -> None:
    assert guild_of(Context(9)) == 9  # type: ignore[arg-type]
    with pytest.raises(NotAllowed) as refused:
        guild_of(Context(None))  # type: ignore[arg-type]
    assert refused.value.message == "This only works in a server."
    with speaking("ru"), pytest.raises(NotAllowed) as in_russian:
        guild_of(Context(None))  # type: ignore[arg-type]
    assert in_russian.value.message == "Это работает только на сервере."
