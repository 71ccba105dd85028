"""Who counts as an admin: Manage Server, configured role ids, and role names only where they are unambiguous."""

from __future__ import annotations

import logging

import hikari
import pytest

from bot.config import Settings, advice
from bot.discord.permissions import admin_role_ids, is_admin, require_admin
from bot.discord.settings import DiscordSettings
from bot.errors import NotAllowed

ROLES = {1: "@everyone", 2: "Bot Admin", 3: "bot admin", 4: "Moderators"}


def test_role_ids_always_count_and_unique_names_count_once_matched() -> None:
    settings = DiscordSettings(admin_roles=["Moderators", "2"])
    assert admin_role_ids(settings, ROLES) == {2, 4}


def test_a_name_shared_by_several_roles_grants_nothing_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    settings = DiscordSettings(admin_roles=["Bot Admin"])
    with caplog.at_level(logging.WARNING):
        assert admin_role_ids(settings, ROLES, guild_id=9) == set()
    assert "matches 2 roles in guild 9" in caplog.text


def test_check_recommends_role_ids_for_names() -> None:
    names = Settings(discord=DiscordSettings(admin_roles=["Bot Admin", "123"]))
    (note,) = advice(names)
    assert "'Bot Admin' is a role name" in note and "role ids" in note
    assert advice(Settings(discord=DiscordSettings(admin_roles=["123"]))) == []


class Member:
    """The two things an admin check reads from an interaction's member."""

    def __init__(self, permissions: hikari.Permissions, role_ids: list[int]) -> None:
        self.permissions = permissions
        self.role_ids = role_ids


def test_manage_server_administrator_or_an_admin_role_make_an_admin() -> None:
    settings = DiscordSettings(admin_roles=["2"])
    plain = hikari.Permissions.SEND_MESSAGES
    assert is_admin(Member(plain | hikari.Permissions.MANAGE_GUILD, []), settings, ROLES)  # type: ignore[arg-type]
    assert is_admin(Member(hikari.Permissions.ADMINISTRATOR, []), settings, ROLES)  # type: ignore[arg-type]
    assert is_admin(Member(plain, [2]), settings, ROLES)  # type: ignore[arg-type]
    assert not is_admin(Member(plain, [3, 4]), settings, ROLES)  # type: ignore[arg-type]
    assert not is_admin(None, settings, ROLES)  # DMs have no admins
    strict = DiscordSettings(admin_roles=[], manage_guild_is_admin=False)
    assert not is_admin(Member(plain | hikari.Permissions.MANAGE_GUILD, []), strict, ROLES)  # type: ignore[arg-type]


class Interaction:
    """What the shared admin check reads from a command's, button's or form's interaction."""

    def __init__(self, guild_id: int | None, member: Member | None) -> None:
        self.guild_id = None if guild_id is None else hikari.Snowflake(guild_id)
        self.member = member
        self.app = object()  # no cache: configured role ids still count


def test_the_shared_admin_check_gives_the_server_to_admins_and_a_short_refusal_otherwise() -> None:
    settings = DiscordSettings(admin_roles=["2"])
    plain = hikari.Permissions.SEND_MESSAGES
    assert require_admin(Interaction(9, Member(plain, [2])), settings, "do it") == 9  # type: ignore[arg-type]
    with pytest.raises(NotAllowed) as refused:
        require_admin(Interaction(9, Member(plain, [3])), settings, "do it")  # type: ignore[arg-type]
    assert refused.value.message == "Only admins can do it (Manage Server permission or an admin role: `2`)."
    with pytest.raises(NotAllowed) as in_dm:
        require_admin(Interaction(None, None), settings, "do it")  # type: ignore[arg-type]
    assert in_dm.value.message == "do it only works in a server."
