"""Who counts as an admin: the Manage Server (or Administrator) permission, or one of the configured roles."""

from __future__ import annotations

import hikari

from bot.config import DiscordSettings
from bot.errors import NotAllowed


def is_admin(member: hikari.InteractionMember | None, settings: DiscordSettings, roles: dict[int, str]) -> bool:
    """`roles` maps the guild's role ids to names (from the cache), so roles may be configured by name or id."""
    if member is None:  # DMs have no admins
        return False
    perms = member.permissions
    if perms & hikari.Permissions.ADMINISTRATOR:
        return True
    if settings.manage_guild_is_admin and perms & hikari.Permissions.MANAGE_GUILD:
        return True
    wanted = {r.strip().lower() for r in settings.admin_roles}
    return any(str(role_id) in wanted or roles.get(int(role_id), "").lower() in wanted for role_id in member.role_ids)


def role_names(app: hikari.RESTAware, guild_id: hikari.Snowflakeish | None) -> dict[int, str]:
    cache = app.cache if isinstance(app, hikari.CacheAware) else None
    if cache is None or guild_id is None:
        return {}
    return {int(role_id): role.name for role_id, role in cache.get_roles_view_for_guild(guild_id).items()}


def require_admin(
    app: hikari.RESTAware,
    member: hikari.InteractionMember | None,
    guild_id: hikari.Snowflakeish | None,
    settings: DiscordSettings,
    action: str,
) -> None:
    """Raise NotAllowed (shown ephemerally) unless the member may run admin actions in this guild."""
    if guild_id is None:
        raise NotAllowed(f"{action} only works in a server.")
    if not is_admin(member, settings, role_names(app, guild_id)):
        roles = ", ".join(f"`{r}`" for r in settings.admin_roles) or "none configured"
        raise NotAllowed(f"Only admins can {action} (Manage Server permission or an admin role: {roles}).")
