"""Settings of the bot's Discord side: where it answers, who its admins are, where DM corrections are reviewed."""

from __future__ import annotations

import attrs

from bot.config_tables import http_url, positive


@attrs.frozen
class DiscordSettings:
    """How the bot presents itself and where it listens."""

    # Guild ids to register commands in (fast to update); empty registers them globally.
    command_guilds: list[int] = attrs.field(factory=list[int])
    # Channels where every message is answered (besides mentions and DMs).
    chat_channels: list[int] = attrs.field(factory=list[int])
    answer_in_dms: bool = True
    # /ask here always goes on in a thread (as with /ask thread:true).
    thread_channels: list[int] = attrs.field(factory=list[int])
    # Every message in a thread the bot opened is answered, not only mentions (needs the Message Content intent).
    answer_in_threads: bool = False
    # Members with this role name or id may run admin actions, besides those with Manage Server.
    admin_roles: list[str] = attrs.field(factory=lambda: ["Bot Admin"])
    # Admin actions also accept the Manage Server permission (recommended). Turning this off leaves only the roles.
    manage_guild_is_admin: bool = True
    # Corrections of answers given in DMs go to this server's review queue; unset, they are not collected.
    dm_review_guild: int | None = None
    # Where a server's admins are told that its model stopped answering or will shut down (guild id = channel id);
    # without one, the notice goes to the channel of the training job that made the model.
    admin_channels: dict[str, int] = attrs.field(factory=dict[str, int])
    # Discord's REST API base URL; unset means Discord itself. For a self-hosted REST proxy, or a local test server
    # (the start-up tests point it at tests/fakes/discord.py). The gateway URL comes from GET /gateway/bot there.
    rest_url: str | None = attrs.field(default=None, validator=http_url)
    # Discord's sharding, for a bot split over several processes: how many shards there are in all, and which of them
    # this process runs. Unset count: one process with Discord's recommended count. Unset ids: every shard.
    # SHARD_COUNT and SHARD_IDS ("0,1" or "2-3") in the environment override both, so one image runs any shard group.
    shard_count: int | None = attrs.field(default=None, validator=positive)
    shard_ids: list[int] | None = None
