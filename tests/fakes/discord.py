"""A loopback fake of Discord's REST API and gateway for driving the real GatewayBot, lightbulb and yuyo in tests.

    async with FakeDiscord() as discord:
        bot = hikari.GatewayBot(discord.token, rest_url=discord.rest_url, ...)
        await bot.start(check_for_updates=False)
        await discord.ready.wait()
        handle = discord.slash("ask", options={"question": "hi"}, user=discord.member)
        await handle.wait(lambda r: r.kind == "edit")

Payloads follow Discord's documented shapes (API v10); tests/fakes/test_discord.py checks each builder with hikari's
own deserializers. Gateway frames are compressed as the client asks in the URL, as Discord does: `zstd-stream` (what
hikari asks for when `backports.zstd` from its speedups is installed, and on Python >= 3.14), `zlib-stream`, or none.

Sharding, as Discord does it (discord-api-docs, topics/gateway "Sharding" and "Rate Limiting"): `GET /gateway/bot`
recommends `shard_count` shards and reports `max_concurrency`; each connection's IDENTIFY names `shard: [id, count]`
(none means [0, 1]); a guild's events go only to the connection whose shard is `(guild_id >> 22) % count`, DMs to
shard 0. An invalid shard closes with 4010, a shard that would hold more than `max_guilds_per_shard` guilds with 4011,
and an IDENTIFY in a bucket (`shard_id % max_concurrency`) that already identified within `identify_window_s` (5 s on
Discord) is answered with Invalid Session (op 9, `d: false`), as the docs say; the client must wait and identify again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import itertools
import json
import re
import sys
import time
import weakref
import zlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import attrs
from aiohttp import web

from tests.fakes.loopback import serve

Json = dict[str, Any]
DISCORD_EPOCH_MS = 1_420_070_400_000
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
EVERYDAY = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 20) | (1 << 21) | (1 << 31)
VIEW_CHANNEL = 1 << 10
READ_MESSAGE_HISTORY = 1 << 16
HISTORY_LIMIT = 100  # most messages per GET /channels/{id}/messages
PINS_LIMIT = 50  # most pins per GET /channels/{id}/messages/pins
MISSING_ACCESS = {"message": "Missing Access", "code": 50001}
CONNECT = 1 << 20
SPEAK = 1 << 21
ALL_PERMISSIONS = (1 << 50) - 1
IS_VOICE_MESSAGE = 1 << 13
EPHEMERAL = 1 << 6
OPTION_TYPES = {str: 3, int: 4, bool: 5, float: 10}
# GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT: switched on per application in the Developer Portal.
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)
# Routes authorised by the interaction or webhook token in the path, not the bot token: hikari sends no header there.
TOKEN_IN_PATH = re.compile(r"/interactions/\d+/[^/]+/callback|/webhooks/\d+/[^/]+(?:/.*)?")
UNAUTHORIZED = {"message": "401: Unauthorized", "code": 0}  # Discord's body for a missing or wrong bot token

# What Discord refuses in a message (discord-api-docs: resources/message "Create Message", resources/message
# "Embed Limits", components/reference, interactions/receiving-and-responding). Each is answered like Discord: 400
# `{"code": 50035, "message": "Invalid Form Body", "errors": {<path>: {"_errors": [...]}}}`, paths through lists by
# index ("components" → "0" → "components" → "1" → "label"); interaction callbacks nest them under "data".
CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_LIMITS = {"title": 256, "description": 4096}
EMBED_FIELDS = 25
EMBED_FIELD_LIMITS = {"name": 256, "value": 1024}
EMBED_TOTAL = 6000  # title, description, field names and values, footer text and author name of all embeds
ROWS_PER_MESSAGE = 5
COMPONENTS_PER_ROW = 5
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
MODAL_TITLE_LIMIT = 45
MODAL_ROWS = 5
TEXT_INPUT_LABEL_LIMIT = 45
TEXT_INPUT_VALUE_LIMIT = 4000
TEXT_INPUT_PLACEHOLDER_LIMIT = 100
CHOICES_LIMIT = 25
CHOICE_LIMIT = 100  # a choice's name and a string value
# An interaction must be answered within 3 s of Discord sending it, or its token stops working; the token then
# serves edits and follow-ups for 15 minutes (interactions/receiving-and-responding).
ACK_WINDOW_S = 3.0
TOKEN_LIFETIME_S = 15 * 60.0
EMPTY_MESSAGE = {"message": "Cannot send an empty message", "code": 50006}
UNKNOWN_CHANNEL = {"message": "Unknown Channel", "code": 10003}
UNKNOWN_MESSAGE = {"message": "Unknown Message", "code": 10008}
UNKNOWN_INTERACTION = {"message": "Unknown interaction", "code": 10062}
UNKNOWN_WEBHOOK = {"message": "Unknown Webhook", "code": 10015}
INVALID_WEBHOOK_TOKEN = {"message": "Invalid Webhook Token", "code": 50027}
NOT_THE_AUTHOR = {"message": "Cannot edit a message authored by another user", "code": 50005}


def _too_long(limit: int) -> Json:
    return {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}


def _required() -> Json:
    return {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}


class FormErrors:
    """Discord's nested `errors` object of a 400 Invalid Form Body: `{"a": {"0": {"b": {"_errors": [...]}}}}`."""

    def __init__(self) -> None:
        self.tree: Json = {}

    def add(self, path: tuple[str | int, ...], error: Json) -> None:
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append(error)

    def longer_than(self, path: tuple[str | int, ...], value: Any, limit: int) -> None:
        if isinstance(value, str | list) and len(value) > limit:  # pyright: ignore[reportUnknownArgumentType]
            self.add(path, _too_long(limit))

    def response(self, under: str | None = None) -> web.Response | None:
        if not self.tree:
            return None
        errors = {under: self.tree} if under else self.tree
        return web.json_response({"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400)


def check_message(data: Json, errors: FormErrors) -> None:
    """Discord's limits on a message's content, embeds and components (create, edit, callback or follow-up)."""
    errors.longer_than(("content",), data.get("content"), CONTENT_LIMIT)
    embeds: list[Json] = data.get("embeds") or []
    errors.longer_than(("embeds",), embeds, EMBEDS_PER_MESSAGE)
    total = 0
    for i, embed in enumerate(embeds):
        for key, limit in EMBED_LIMITS.items():
            errors.longer_than(("embeds", i, key), embed.get(key), limit)
            total += len(embed.get(key) or "")
        fields: list[Json] = embed.get("fields") or []
        errors.longer_than(("embeds", i, "fields"), fields, EMBED_FIELDS)
        for j, field in enumerate(fields):
            for key, limit in EMBED_FIELD_LIMITS.items():
                errors.longer_than(("embeds", i, "fields", j, key), field.get(key), limit)
                total += len(field.get(key) or "")
        total += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    if total > EMBED_TOTAL:
        errors.add(
            ("embeds",),
            {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": f"Embed size exceeds maximum size of {EMBED_TOTAL}"},
        )
    rows: list[Json] = data.get("components") or []
    errors.longer_than(("components",), rows, ROWS_PER_MESSAGE)
    for i, row in enumerate(rows):
        items: list[Json] = row.get("components") or []
        errors.longer_than(("components", i, "components"), items, COMPONENTS_PER_ROW)
        for j, item in enumerate(items):
            errors.longer_than(("components", i, "components", j, "custom_id"), item.get("custom_id"), CUSTOM_ID_LIMIT)
            if item.get("type") == 2:
                errors.longer_than(("components", i, "components", j, "label"), item.get("label"), BUTTON_LABEL_LIMIT)


def check_modal(data: Json, errors: FormErrors) -> None:
    """Discord's limits on a modal (callback type 9): its title, custom id, rows and text inputs."""
    for key, limit in (("title", MODAL_TITLE_LIMIT), ("custom_id", CUSTOM_ID_LIMIT)):
        if not data.get(key):
            errors.add((key,), _required())
        errors.longer_than((key,), data.get(key), limit)
    rows: list[Json] = data.get("components") or []
    if not rows:
        errors.add(("components",), _required())
    errors.longer_than(("components",), rows, MODAL_ROWS)
    for i, row in enumerate(rows):
        for j, item in enumerate(row.get("components") or []):
            path = ("components", i, "components", j)
            errors.longer_than((*path, "custom_id"), item.get("custom_id"), CUSTOM_ID_LIMIT)
            errors.longer_than((*path, "label"), item.get("label"), TEXT_INPUT_LABEL_LIMIT)
            errors.longer_than((*path, "value"), item.get("value"), TEXT_INPUT_VALUE_LIMIT)
            errors.longer_than((*path, "placeholder"), item.get("placeholder"), TEXT_INPUT_PLACEHOLDER_LIMIT)


def check_choices(data: Json, errors: FormErrors) -> None:
    """Discord's limits on autocomplete choices (callback type 8): at most 25, names and string values ≤ 100."""
    choices: list[Json] = data.get("choices") or []
    errors.longer_than(("choices",), choices, CHOICES_LIMIT)
    for i, choice in enumerate(choices):
        errors.longer_than(("choices", i, "name"), choice.get("name"), CHOICE_LIMIT)
        errors.longer_than(("choices", i, "value"), choice.get("value"), CHOICE_LIMIT)


# Application commands (interactions/application-commands "Application Command Object", "Localization"): names and
# descriptions, their localisations keyed by Discord's locales only, and options the same way, nested.
DISCORD_LOCALES = frozenset(
    [
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    ]
)
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
COMMAND_NAME_LIMIT = 32
DESCRIPTION_LIMIT = 100
OPTIONS_LIMIT = 25


def _invalid(message: str, code: str = "BASE_TYPE_BAD_FORMAT") -> Json:
    return {"code": code, "message": message}


def _check_name(path: tuple[str | int, ...], name: Any, slash: bool, errors: FormErrors) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= COMMAND_NAME_LIMIT:
        errors.add(path, _invalid(f"Must be between 1 and {COMMAND_NAME_LIMIT} in length.", "BASE_TYPE_BAD_LENGTH"))
    elif slash and (not COMMAND_NAME.match(name) or name != name.lower()):
        errors.add(path, _invalid("Command name is invalid", "APPLICATION_COMMAND_INVALID_NAME"))


def _check_description(path: tuple[str | int, ...], text: Any, errors: FormErrors) -> None:
    if not isinstance(text, str) or not 1 <= len(text) <= DESCRIPTION_LIMIT:
        errors.add(path, _invalid(f"Must be between 1 and {DESCRIPTION_LIMIT} in length.", "BASE_TYPE_BAD_LENGTH"))


def _check_texts(path: tuple[str | int, ...], item: Json, slash: bool, described: bool, errors: FormErrors) -> None:
    """A command's or option's name and description, and their localisations (a dict of Discord locales, or null)."""
    _check_name((*path, "name"), item.get("name"), slash, errors)
    if described:
        _check_description((*path, "description"), item.get("description"), errors)
    elif item.get("description"):
        errors.add((*path, "description"), _invalid("Only slash commands have descriptions"))
    for key, check in (("name_localizations", "name"), ("description_localizations", "description")):
        localized: Json | None = item.get(key)
        if localized is None:
            continue
        if check == "description" and not described:
            errors.add((*path, key), _invalid("Only slash commands have descriptions"))
            continue
        for locale, text in localized.items():
            if locale not in DISCORD_LOCALES:
                errors.add((*path, key, locale), _invalid(f"Invalid locale: {locale}", "LOCALE_INVALID"))
            elif check == "name":
                _check_name((*path, key, locale), text, slash, errors)
            else:
                _check_description((*path, key, locale), text, errors)


def check_commands(commands: list[Json], errors: FormErrors) -> None:
    """What Discord refuses in a bulk overwrite of application commands."""
    for i, command in enumerate(commands):
        slash = command.get("type", 1) == 1
        _check_texts((i,), command, slash, slash, errors)
        _check_options((i, "options"), command.get("options") or [], errors)


def _check_options(path: tuple[str | int, ...], options: list[Json], errors: FormErrors) -> None:
    errors.longer_than(path, options, OPTIONS_LIMIT)
    for j, option in enumerate(options):
        _check_texts((*path, j), option, True, True, errors)
        for k, choice in enumerate(option.get("choices") or []):
            errors.longer_than((*path, j, "choices", k, "name"), choice.get("name"), CHOICE_LIMIT)
            for locale, text in (choice.get("name_localizations") or {}).items():
                where = (*path, j, "choices", k, "name_localizations", locale)
                if locale not in DISCORD_LOCALES:
                    errors.add(where, _invalid(f"Invalid locale: {locale}", "LOCALE_INVALID"))
                elif not isinstance(text, str) or not 1 <= len(text) <= CHOICE_LIMIT:
                    errors.add(
                        where, _invalid(f"Must be between 1 and {CHOICE_LIMIT} in length.", "BASE_TYPE_BAD_LENGTH")
                    )
        _check_options((*path, j, "options"), option.get("options") or [], errors)


# What GUILD_CREATE carries and GET /guilds/{id} does not.
GATEWAY_ONLY_GUILD_FIELDS = frozenset(
    {
        "joined_at",
        "large",
        "unavailable",
        "member_count",
        "members",
        "channels",
        "threads",
        "voice_states",
        "presences",
        "stage_instances",
        "guild_scheduled_events",
    }
)


def is_empty(content: str | None, embeds: list[Json], components: list[Json], attachments: int) -> bool:
    """What Discord calls an empty message (50006): no text but blanks, no embed, component or attachment."""
    return not (content or "").strip() and not embeds and not components and not attachments


def inner_options(options: list[Json]) -> list[Json]:
    """The command's own options, under its subcommand (group) if any."""
    while options and options[0]["type"] in (1, 2):
        options = options[0].get("options", [])
    return options


def _iso(t: dt.datetime | None = None) -> str:
    return (t or dt.datetime.now(dt.UTC)).isoformat()


def _stream_compressor(kind: str | None) -> Callable[[bytes], bytes] | None:
    """One compression context per connection; each message is flushed so the client can decode it at once."""
    if kind == "zlib-stream":
        zlib_stream = zlib.compressobj()
        return lambda data: zlib_stream.compress(data) + zlib_stream.flush(zlib.Z_SYNC_FLUSH)
    if kind == "zstd-stream":
        if sys.version_info >= (3, 14):
            from compression import zstd
        else:
            from backports import zstd
        zstd_stream = zstd.ZstdCompressor()
        return lambda data: zstd_stream.compress(data, zstd.ZstdCompressor.FLUSH_BLOCK)
    if kind is None:
        return None
    raise ValueError(f"Discord knows no gateway compression {kind!r}")


@attrs.define
class User:
    id: int
    name: str
    permissions: int = EVERYDAY
    roles: list[int] = attrs.field(factory=list[int])
    bot: bool = False
    locale: str = "en-US"  # the Discord client's language, sent with each of their interactions

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name.title(),
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }

    def member(self) -> Json:
        member: Json = {
            "user": self.payload(),
            "nick": None,
            "avatar": None,
            "roles": [str(r) for r in self.roles],
            "joined_at": _iso(dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        return member


@attrs.define
class Attachment:
    filename: str
    content_type: str | None
    data: bytes


@attrs.define
class Event:
    """One thing the bot did in answer to an interaction."""

    kind: str  # callback | edit | followup | followup-edit | delete
    t: float
    json: Json
    files: list[Attachment] = attrs.field(factory=list[Attachment])
    type: int | None = None  # callback type
    message_id: int | None = None


def final(e: Event) -> bool:
    """Whether `e` is an answer's last edit: the one that brings its Correct button."""
    return "correct:" in str(e.json.get("components"))


def said(e: Event) -> str:
    """What the bot said in `e`: its content, then its embeds as JSON (a callback's from its data)."""
    data = e.json.get("data", e.json) if e.kind == "callback" else e.json
    return str((data or {}).get("content", "")) + json.dumps((data or {}).get("embeds", []))


@attrs.define
class Message:
    """A message as the fake stores it: current content, components, attachments after every edit."""

    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str = ""
    components: list[Json] = attrs.field(factory=list[Json])
    embeds: list[Json] = attrs.field(factory=list[Json])
    attachments: list[Attachment] = attrs.field(factory=list[Attachment])
    flags: int = 0
    reply_to: int | None = None
    interaction_token: str | None = None
    edits: int = 0
    deleted: bool = False
    # A user's message: its attachments as they were posted (served by the fake, so a bot may download them).
    posted_attachments: list[Json] = attrs.field(factory=list[Json])
    pinned_at: str | None = None  # ISO time it was pinned; None when not pinned

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for row in self.components for c in row.get("components", []) if "custom_id" in c]


@attrs.define
class Request:
    method: str
    path: str
    t: float
    json: Any
    query: dict[str, str]


class InteractionHandle:
    """Everything the bot did in answer to one interaction, in order."""

    def __init__(self, discord: FakeDiscord, interaction_id: int, token: str, payload: Json) -> None:
        self._discord = discord
        self.id = interaction_id
        self.token = token
        self.payload = payload
        self.created = discord.now()
        self.sent: float | None = None  # when INTERACTION_CREATE left the fake's socket (the fake's clock)
        self.responses: list[Event] = []
        self.original: Message | None = None
        self.followups: list[Message] = []
        self._changed = asyncio.Condition()

    async def _record(self, event: Event) -> None:
        self.responses.append(event)
        async with self._changed:
            self._changed.notify_all()

    async def wait(self, predicate: Callable[[Event], bool], timeout: float = 15) -> Event:
        """The first recorded event matching `predicate`, waiting for it if needed."""

        def find() -> Event | None:
            return next((e for e in self.responses if predicate(e)), None)

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: find() is not None)
        found = find()
        assert found is not None
        return found

    async def wait_callback(self, timeout: float = 15) -> Event:
        return await self.wait(lambda e: e.kind == "callback", timeout)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 15) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    @property
    def age(self) -> float:
        """Seconds on the fake's clock since Discord sent the interaction: its 3 s and 15 min windows count from it."""
        return self._discord.now() - (self.sent if self.sent is not None else self.created)

    @property
    def user_id(self) -> int:
        who = self.payload.get("member", {}).get("user") or self.payload["user"]
        return int(who["id"])

    @property
    def callback(self) -> Event | None:
        return next((e for e in self.responses if e.kind == "callback"), None)

    @property
    def content(self) -> str:
        return self.original.content if self.original else ""

    @property
    def ephemeral(self) -> bool:
        cb = self.callback
        return bool(cb and (cb.json.get("data") or {}).get("flags", 0) & EPHEMERAL)

    @property
    def modal(self) -> Json | None:
        """The modal the bot opened: custom_id, title and its fields (custom_id, label, value, style, ...)."""
        cb = self.callback
        if cb is None or cb.type != 9:
            return None
        data = cb.json["data"]
        fields = [c for row in data["components"] for c in row["components"]]
        return {"custom_id": data["custom_id"], "title": data["title"], "fields": fields}

    @property
    def choices(self) -> list[Json]:
        cb = self.callback
        return [] if cb is None or cb.type != 8 else list(cb.json["data"]["choices"])

    @property
    def messages(self) -> list[Message]:
        return ([self.original] if self.original else []) + self.followups

    @property
    def text(self) -> str:
        """All visible text of the response and its follow-ups, in order."""
        return "\n".join(m.content for m in self.messages if not m.deleted)


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (guild_id >> 22) % shard_count


@attrs.define(eq=False)
class GatewaySession:
    """One identified gateway session: a shard, its sequence, and the dispatches kept for replay on RESUME."""

    shard_id: int
    shard_count: int
    session_id: str
    ws: web.WebSocketResponse
    compress: Callable[[bytes], bytes] | None
    seq: int = 0
    events: list[tuple[int, Json]] = attrs.field(factory=list[tuple[int, Json]])
    connected: asyncio.Event = attrs.field(factory=asyncio.Event)

    def holds(self, guild_id: int | None) -> bool:
        if guild_id is None:
            return self.shard_id == 0  # DMs arrive on shard 0
        return shard_of(guild_id, self.shard_count) == self.shard_id


class FakeDiscord:
    """Discord on 127.0.0.1: REST under /api/v10, the gateway at /gateway. See the module docstring."""

    def __init__(
        self,
        *,
        identify_window_s: float = 5.0,
        ack_window_s: float = ACK_WINDOW_S,
        token_lifetime_s: float = TOKEN_LIFETIME_S,
    ) -> None:
        # The fake's clock: monotonic time moved on by `advance()`, so tests can pass Discord's windows unwaiting.
        self._clock_offset = 0.0
        self.ack_window_s = ack_window_s
        self.token_lifetime_s = token_lifetime_s
        self._ids = itertools.count(1)
        self.application_id = self.snowflake()
        self.token = base64.urlsafe_b64encode(str(self.application_id).encode()).decode().rstrip("=") + ".fake.token"
        self.bot_user = User(self.application_id, "teachbot", bot=True)
        # With two shards the main guild is on shard 0 and the other on shard 1 (with one shard, both on shard 0).
        self.guild_id = self.snowflake_on_shard(0, 2)
        self.other_guild_id = self.snowflake_on_shard(1, 2)
        self.admin_role_id = self.snowflake()
        self.channel_id = self.snowflake()
        self.other_channel_id = self.snowflake()
        self.chat_channel_id = self.snowflake()
        self.voice_channel_id = self.snowflake()
        self.other_guild_channel_id = self.snowflake()
        self.other_guild_voice_channel_id = self.snowflake()
        self.users: dict[int, User] = {}
        # Roles beyond @everyone and "Bot Admin": id -> (name, permissions). A user made with extra permissions
        # gets a role of their own holding them, as on Discord, where permissions only come from roles.
        self.extra_roles: dict[int, tuple[str, int]] = {}
        # Each server's preferred locale (Server Settings → Community → Server Primary Language).
        self.guild_locales: dict[int, str] = {}
        # Channel permission overwrites as Discord sends them: channel id -> [{"id", "type", "allow", "deny"}].
        self.overwrites: dict[int, list[Json]] = {}
        self.admin = self.make_user("ada", permissions=EVERYDAY | MANAGE_GUILD)
        self.member = self.make_user("bob")
        self.role_admin = self.make_user("carol", roles=[self.admin_role_id])
        self.dm_channels: dict[int, int] = {}
        self.messages: dict[int, Message] = {}
        self.interactions: dict[str, InteractionHandle] = {}
        self.commands: dict[int | None, list[Json]] = {}
        self.requests: list[Request] = []
        # Awaited before each REST call is answered: a test may hold a call there (Discord being slow to answer).
        self.rest_gate: Callable[[Request], Awaitable[None]] | None = None
        self.unknown: list[Request] = []
        self.gateway_ops: list[Json] = []
        self.identifies = 0
        self.resumes = 0
        # Sharding (see the module docstring): what GET /gateway/bot recommends and allows, and what Discord enforces.
        self.shard_count = 1
        self.max_concurrency = 1
        self.identify_window_s = identify_window_s
        self.max_guilds_per_shard = 2500
        self.identified: list[tuple[int, int, float]] = []  # (shard id, shard count, `now()`) per IDENTIFY
        self.identify_refusals: list[tuple[int, int]] = []  # IDENTIFYs answered with Invalid Session (too fast)
        self.misrouted_voice_updates: list[Json] = []  # op 4 sent on a shard that does not hold the guild
        self._last_identify: dict[int, float] = {}  # rate-limit bucket -> when it last identified
        self._sessions: dict[str, GatewaySession] = {}
        self._session_ids = itertools.count(1)
        # Tokens Discord accepts (`revoke_token()` empties it) and the privileged intents the app may ask for.
        self.valid_tokens = {self.token}
        self.privileged_intents = PRIVILEGED_INTENTS
        self.closes: list[int] = []  # close codes the gateway sent
        self.ready = asyncio.Event()
        self.commands_synced = asyncio.Event()
        self._faults: list[tuple[re.Pattern[str], int, float, str]] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._together: list[tuple[GatewaySession, Json]] | None = None  # dispatches held by `at_once`
        # Each connection's frames are compressed in the order they are written (its compression is one stream).
        self._sending: weakref.WeakKeyDictionary[web.WebSocketResponse, asyncio.Lock] = weakref.WeakKeyDictionary()
        self.port = 0
        self.on_voice_state_update: Callable[[Json], Any] | None = None
        self._files: dict[int, bytes] = {}
        self.file_downloads: list[int] = []  # attachment ids the bot fetched
        # Threads opened on messages: thread id (= the starter message's id, as on Discord) → channel payload.
        self.threads: dict[int, Json] = {}
        # Channel history and pins are rate limited per channel as Discord's buckets are: `history_rate` requests per
        # `history_window_s` (real seconds, since the client sleeps them), announced in X-RateLimit-* headers; a
        # request over it gets 429 and is kept in `rate_limited`.
        self.history_rate = 5
        self.history_window_s = 0.2
        self._history_buckets: dict[int, tuple[float, int]] = {}  # channel -> (window start, requests in it)
        self.rate_limited: list[Request] = []

    # ----- lifecycle -----------------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/files/{id}/{name}", self._serve_file)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner, self.port = await serve(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for session in list(self._sessions.values()):
            if not session.ws.closed:
                await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def now(self) -> float:
        """The fake's clock (seconds, monotonic): every window it enforces and every time it records is on it."""
        return time.monotonic() + self._clock_offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on, as if `seconds` had passed (interaction windows, IDENTIFY windows)."""
        self._clock_offset += seconds

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    def snowflake(self) -> int:
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) + next(self._ids)

    def snowflake_on_shard(self, shard_id: int, shard_count: int) -> int:
        """A new id whose guild would be on `shard_id` of `shard_count` (its timestamp moved on a few milliseconds)."""
        flake = self.snowflake()
        while shard_of(flake, shard_count) != shard_id:
            flake += 1 << 22
        return flake

    @property
    def guild_ids(self) -> tuple[int, int]:
        return (self.guild_id, self.other_guild_id)

    def make_user(self, name: str, *, permissions: int = EVERYDAY, roles: list[int] | None = None) -> User:
        user = User(self.snowflake(), name, permissions=permissions, roles=list(roles or []))
        if permissions & ~EVERYDAY:
            user.roles.append(self.make_role(f"{name}'s role", permissions))
        self.users[user.id] = user
        return user

    def make_role(self, name: str, permissions: int = EVERYDAY) -> int:
        """A role in the main guild (names need not be unique, as on Discord); make roles before the bot starts."""
        role_id = self.snowflake()
        self.extra_roles[role_id] = (name, permissions)
        return role_id

    def deny(self, channel_id: int, permissions: int, *, role_id: int | None = None, user: User | None = None) -> None:
        """Add a channel overwrite denying `permissions` to a role (default @everyone) or a member."""
        target, kind = (user.id, 1) if user is not None else (role_id or self.guild_id, 0)
        self.overwrites.setdefault(channel_id, []).append(
            {"id": str(target), "type": kind, "allow": "0", "deny": str(permissions)}
        )

    def allow(self, channel_id: int, permissions: int, *, role_id: int | None = None, user: User | None = None) -> None:
        target, kind = (user.id, 1) if user is not None else (role_id or self.guild_id, 0)
        self.overwrites.setdefault(channel_id, []).append(
            {"id": str(target), "type": kind, "allow": str(permissions), "deny": "0"}
        )

    def permissions_in(self, user: User, channel_id: int) -> int:
        """What Discord computes for a member in a channel: roles, then @everyone, role and member overwrites."""
        if user.id == self.admin.id:  # the guild owner
            return ALL_PERMISSIONS
        roles = {self.admin_role_id: EVERYDAY} | {r: p for r, (_, p) in self.extra_roles.items()}
        base = EVERYDAY
        for role in user.roles:
            base |= roles.get(role, 0)
        if base & ADMINISTRATOR:
            return ALL_PERMISSIONS
        overwrites = self.overwrites.get(channel_id, [])
        for o in overwrites:
            if o["type"] == 0 and int(o["id"]) == self.guild_id:
                base = (base & ~int(o["deny"])) | int(o["allow"])
        allow = deny = 0
        for o in overwrites:
            if o["type"] == 0 and int(o["id"]) in user.roles:
                allow |= int(o["allow"])
                deny |= int(o["deny"])
        base = (base & ~deny) | allow
        for o in overwrites:
            if o["type"] == 1 and int(o["id"]) == user.id:
                base = (base & ~int(o["deny"])) | int(o["allow"])
        return base if base & VIEW_CHANNEL else 0

    def dm_channel(self, user: User) -> int:
        if user.id not in self.dm_channels:
            self.dm_channels[user.id] = self.snowflake()
        return self.dm_channels[user.id]

    # ----- payloads --------------------------------------------------------------------------------------------

    def guild_payload(self, guild_id: int) -> Json:
        main = guild_id == self.guild_id
        channels = (
            [
                self._text_channel(self.channel_id, "general", 0, guild_id),
                self._text_channel(self.other_channel_id, "random", 1, guild_id),
                self._text_channel(self.chat_channel_id, "ask-the-bot", 2, guild_id),
                self._voice_channel(self.voice_channel_id, "Lounge", 3, guild_id),
            ]
            if main
            else [
                self._text_channel(self.other_guild_channel_id, "elsewhere", 0, guild_id),
                self._voice_channel(self.other_guild_voice_channel_id, "Hall", 1, guild_id),
            ]
        )
        roles = [self._role(guild_id, "@everyone", EVERYDAY, 0)]
        if main:
            roles.append(self._role(self.admin_role_id, "Bot Admin", EVERYDAY, 1))
            roles += [
                self._role(role_id, name, perms, 2 + i)
                for i, (role_id, (name, perms)) in enumerate(self.extra_roles.items())
            ]
        members = [self.bot_user.member()] + [u.member() for u in self.users.values()]
        return {
            "id": str(guild_id),
            "name": "Teaching Guild" if main else "Other Guild",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.admin.id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "widget_enabled": False,
            "widget_channel_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "max_video_channel_users": 25,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.guild_locales.get(guild_id, "en-US"),
            "nsfw_level": 0,
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "joined_at": _iso(),
            "large": False,
            "unavailable": False,
            "member_count": len(members),
            "members": members,
            "channels": channels,
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        }

    def _role(self, role_id: int, name: str, permissions: int, position: int) -> Json:
        return {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _text_channel(self, channel_id: int, name: str, position: int, guild_id: int) -> Json:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": self.overwrites.get(channel_id, []),
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
        }

    def _voice_channel(self, channel_id: int, name: str, position: int, guild_id: int) -> Json:
        return {
            "id": str(channel_id),
            "type": 2,
            "guild_id": str(guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": self.overwrites.get(channel_id, []),
            "nsfw": False,
            "bitrate": 64000,
            "user_limit": 0,
            "rtc_region": None,
            "video_quality_mode": 1,
            "parent_id": None,
        }

    def ready_payload(self, shard: tuple[int, int] = (0, 1), session_id: str = "fake-session-1") -> Json:
        me = self.bot_user.payload() | {"mfa_enabled": False, "verified": True, "flags": 0, "locale": "en-US"}
        return {
            "v": 10,
            "user": me,
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds_on(*shard)],
            "session_id": session_id,
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway",
            "shard": list(shard),
            "application": {"id": str(self.application_id), "flags": 0},
        }

    def application_payload(self) -> Json:
        return {
            "id": str(self.application_id),
            "name": "teachbot",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": self.admin.payload(),
            "team": None,
            "bot": self.bot_user.payload(),
            "approximate_guild_count": 2,
            "approximate_user_install_count": 0,
        }

    def _channel_of(self, channel_id: int, guild_id: int | None) -> Json:
        if channel_id in self.threads:
            thread = self.threads[channel_id]
            keys = ("id", "type", "guild_id", "name", "parent_id", "owner_id", "thread_metadata")
            return {k: thread[k] for k in keys} | {"permissions": str(ALL_PERMISSIONS & ~ADMINISTRATOR)}
        if guild_id is None:
            return {"id": str(channel_id), "type": 1, "last_message_id": None, "recipients": []}
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": "general",
            "position": 0,
            "permission_overwrites": self.overwrites.get(channel_id, []),
            "nsfw": False,
            "topic": None,
            "parent_id": None,
        }

    def _interaction(
        self,
        kind: int,
        data: Json,
        *,
        user: User,
        channel_id: int | None,
        guild_id: int | None,
        message: Json | None,
        check_view: bool = True,
    ) -> InteractionHandle:
        interaction_id = self.snowflake()
        token = f"itoken-{interaction_id}"
        guild = guild_id
        channel = channel_id or (self.channel_id if guild is not None else self.dm_channel(user))
        if check_view and guild is not None and not self.permissions_in(user, channel) & VIEW_CHANNEL:
            raise AssertionError(
                f"{user.name} cannot see channel {channel}: Discord offers them nothing to act on there"
            )
        payload: Json = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "channel": self._channel_of(channel, guild),
            "channel_id": str(channel),
            "token": token,
            "version": 1,
            "app_permissions": str(self.permissions_in(self.bot_user, channel) if guild else EVERYDAY),
            "locale": user.locale,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild)} if guild else {"1": str(user.id)},
            "context": 0 if guild else 1,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild is not None:
            payload["guild_id"] = str(guild)
            payload["guild_locale"] = self.guild_locales.get(guild, "en-US")
            payload["member"] = user.member() | {"permissions": str(self.permissions_in(user, channel))}
        else:
            payload["user"] = user.payload()
        if message is not None:
            payload["message"] = message
        handle = InteractionHandle(self, interaction_id, token, payload)
        self.interactions[token] = handle
        return handle

    def _registered_option_types(self, name: str, guild_id: int | None, path: list[str]) -> dict[str, int]:
        for command in self.commands.get(guild_id, []) + self.commands.get(None, []):
            if command["name"] != name:
                continue
            options = command.get("options", [])
            for part in path:
                options = next((o.get("options", []) for o in options if o["name"] == part), [])
            return {o["name"]: o["type"] for o in options}
        return {}

    def _options(self, values: dict[str, Any], types: dict[str, int], focused: str | None = None) -> list[Json]:
        options: list[Json] = []
        for key, value in values.items():
            kind = types.get(key) or (11 if isinstance(value, Attachment | dict) else OPTION_TYPES.get(type(value), 3))
            if isinstance(value, User):
                kind, value = 6, str(value.id)
            if kind == 11 and isinstance(value, dict):
                value = value["id"]
            option: Json = {"name": key, "type": kind, "value": value}
            if key == focused:
                option["focused"] = True
            options.append(option)
        return options

    def attachment(self, filename: str, data: bytes, content_type: str | None = None, **extra: Any) -> Json:
        """An attachment the fake serves over HTTP, for `slash(options=...)` or `post_message(attachments=...)`."""
        attachment_id = self.snowflake()
        self._files[attachment_id] = data
        url = f"http://127.0.0.1:{self.port}/files/{attachment_id}/upload.bin"
        payload: Json = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            **extra,
        }
        if content_type is not None:
            payload["content_type"] = content_type
        return payload

    # ----- user actions -----------------------------------------------------------------------------------------

    def slash(
        self,
        name: str,
        *,
        options: dict[str, Any] | None = None,
        subcommand: str | None = None,
        user: User | None = None,
        channel_id: int | None = None,
        guild_id: int | None = -1,
    ) -> InteractionHandle:
        """Dispatch a slash command; `subcommand` is "sub" or "group sub"; guild_id=None sends it from a DM."""
        guild = self.guild_id if guild_id == -1 else guild_id
        path = subcommand.split() if subcommand else []
        values = dict(options or {})
        attachments = {k: v for k, v in values.items() if isinstance(v, dict)}
        inner = self._options(values, self._registered_option_types(name, guild, path))
        for part in reversed(path):
            inner = [{"name": part, "type": 1 if part == path[-1] else 2, "options": inner}]
        command = self._offered(name, guild)
        data: Json = {"id": command.get("id", str(self.snowflake())), "name": name, "type": 1, "options": inner}
        if guild is not None and any(c["name"] == name for c in self.commands.get(guild, [])):
            data["guild_id"] = str(guild)  # as Discord: only for a command registered in the guild, not a global one
        if attachments:
            data["resolved"] = {"attachments": {a["id"]: a for a in attachments.values()}}
        channels = [o for o in inner_options(inner) if o["type"] == 7]
        if channels:  # channel options arrive as ids, resolved to partial channels with the caller's permissions
            acting = user or self.member
            data.setdefault("resolved", {})["channels"] = {
                str(o["value"]): self._resolved_channel(int(o["value"]), acting) for o in channels
            }
            for o in channels:
                o["value"] = str(o["value"])
        users = [self.users[int(o["value"])] for o in inner_options(inner) if o["type"] == 6]
        if users:  # user options arrive as ids, resolved to the users (and, in a guild, their members)
            resolved = data.setdefault("resolved", {})
            resolved["users"] = {str(u.id): u.payload() for u in users}
            if guild is not None:
                members = {str(u.id): {k: v for k, v in u.member().items() if k != "user"} for u in users}
                resolved["members"] = {k: v | {"permissions": "0"} for k, v in members.items()}
        handle = self._interaction(
            2, data, user=user or self.member, channel_id=channel_id, guild_id=guild, message=None
        )
        self.dispatch("INTERACTION_CREATE", handle.payload)
        return handle

    def _resolved_channel(self, channel_id: int, user: User) -> Json:
        voice = channel_id in (self.voice_channel_id, self.other_guild_voice_channel_id)
        return {
            "id": str(channel_id),
            "type": 2 if voice else 0,
            "name": "voice" if voice else "text",
            "permissions": str(self.permissions_in(user, channel_id)),
        }

    def autocomplete(
        self,
        name: str,
        focused: str,
        options: dict[str, Any],
        *,
        subcommand: str | None = None,
        user: User | None = None,
        guild_id: int | None = -1,
    ) -> InteractionHandle:
        guild = self.guild_id if guild_id == -1 else guild_id
        path = subcommand.split() if subcommand else []
        types = self._registered_option_types(name, guild, path)
        inner = self._options(options, types, focused)
        for part in reversed(path):
            inner = [{"name": part, "type": 1 if part == path[-1] else 2, "options": inner}]
        command = self._offered(name, guild)
        data: Json = {"id": command.get("id", str(self.snowflake())), "name": name, "type": 1, "options": inner}
        if guild is not None:
            data["guild_id"] = str(guild)
        handle = self._interaction(4, data, user=user or self.member, channel_id=None, guild_id=guild, message=None)
        self.dispatch("INTERACTION_CREATE", handle.payload)
        return handle

    def click(
        self, message: Message, custom_id: str, *, user: User | None = None, unchecked: bool = False
    ) -> InteractionHandle:
        """Press a button on a message the bot sent. `unchecked=True` sends a custom id that is not on the message, or
        a click on an ephemeral message of another user (a modified client's request), to prove the bot's own checks."""
        acting = user or self.member
        if not unchecked:
            assert custom_id in message.custom_ids, f"{custom_id!r} is not on the message ({message.custom_ids})"
        if not unchecked and message.flags & EPHEMERAL and message.interaction_token is not None:
            owner = self.interactions[message.interaction_token].user_id
            assert owner == acting.id, "an ephemeral message is shown only to the user it answered"
        data = {"custom_id": custom_id, "component_type": 2}
        handle = self._interaction(
            3,
            data,
            user=user or self.member,
            channel_id=message.channel_id,
            guild_id=message.guild_id,
            message=self.message_payload(message),
        )
        self.dispatch("INTERACTION_CREATE", handle.payload)
        return handle

    def message_command(
        self, name: str, message: Message, *, user: User | None = None, unchecked: bool = False
    ) -> InteractionHandle:
        """Use a message command ("Apps" on a message): a type-2 interaction with `data.type` 3, `target_id` and the
        message in `resolved.messages`, sent from the message's channel. Like Discord, only on a message the user is
        shown: an ephemeral one only to whom it answered, and only in a channel they can see. `unchecked=True` sends
        it anyway (a stale client whose channel was hidden meanwhile, or a modified one), with the permissions
        Discord computes now, to prove the bot's own checks."""
        acting = user or self.member
        if not unchecked and message.flags & EPHEMERAL and message.interaction_token is not None:
            owner = self.interactions[message.interaction_token].user_id
            assert owner == acting.id, "an ephemeral message is shown only to the user it answered"
        command = self._offered(name, message.guild_id)
        assert command.get("type") == 3, f"no message command {name!r} is registered"
        data: Json = {
            "id": command["id"],
            "name": name,
            "type": 3,
            "target_id": str(message.id),
            "resolved": {"messages": {str(message.id): self.message_payload(message)}},
        }
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
        handle = self._interaction(
            2,
            data,
            user=acting,
            channel_id=message.channel_id,
            guild_id=message.guild_id,
            message=None,
            check_view=not unchecked,
        )
        self.dispatch("INTERACTION_CREATE", handle.payload)
        return handle

    def submit_modal(
        self,
        custom_id: str,
        values: dict[str, str],
        *,
        user: User | None = None,
        guild_id: int | None = -1,
        channel_id: int | None = None,
        message: Message | None = None,
    ) -> InteractionHandle:
        """Submit a modal; `message` is the message whose component opened it (Discord then sends it along)."""
        guild = self.guild_id if guild_id == -1 else guild_id
        if message is not None:
            guild, channel_id = message.guild_id, message.channel_id
        rows = [
            {"type": 1, "id": i * 2 + 1, "components": [{"type": 4, "id": i * 2 + 2, "custom_id": k, "value": v}]}
            for i, (k, v) in enumerate(values.items())
        ]
        data = {"custom_id": custom_id, "components": rows}
        handle = self._interaction(
            5,
            data,
            user=user or self.member,
            channel_id=channel_id,
            guild_id=guild,
            message=self.message_payload(message) if message is not None else None,
        )
        self.dispatch("INTERACTION_CREATE", handle.payload)
        return handle

    def post_message(
        self,
        content: str,
        *,
        author: User | None = None,
        channel_id: int | None = None,
        guild_id: int | None = -1,
        mentions_bot: bool = False,
        attachments: list[Json] | None = None,
        flags: int = 0,
    ) -> Json:
        """A user posts a message (guild_id=None: a DM). Returns the MESSAGE_CREATE payload."""
        user = author or self.member
        guild = self.guild_id if guild_id == -1 else guild_id
        channel = channel_id or (self.channel_id if guild is not None else self.dm_channel(user))
        if mentions_bot and f"<@{self.bot_user.id}>" not in content:
            content = f"<@{self.bot_user.id}> {content}"
        message_id = self.snowflake()
        payload: Json = {
            "id": str(message_id),
            "channel_id": str(channel),
            "author": user.payload(),
            "content": content,
            "timestamp": _iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [self.bot_user.payload()] if mentions_bot else [],
            "mention_roles": [],
            "attachments": attachments or [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": flags,
            "components": [],
        }
        if guild is not None:
            payload["guild_id"] = str(guild)
            member = user.member()
            del member["user"]
            payload["member"] = member
        # Kept, as Discord keeps it: the bot may fetch it, reply to it or open a thread on it, but not edit it.
        self.messages[message_id] = Message(
            message_id,
            channel,
            guild,
            user,
            content=content,
            flags=flags,
            interaction_token=None,
            posted_attachments=list(attachments or []),
        )
        self.dispatch("MESSAGE_CREATE", payload)
        return payload

    def seed_history(self, channel_id: int, texts: list[str], *, author: User | None = None) -> list[Message]:
        """Messages posted in a channel before the bot was there (no gateway event): its history to read."""
        guild = self._guild_of_channel(channel_id)
        seeded: list[Message] = []
        for text in texts:
            message = Message(self.snowflake(), channel_id, guild, author or self.member, content=text)
            self.messages[message.id] = message
            seeded.append(message)
        return seeded

    def edit_user_message(self, message: Message, content: str, *, dispatch: bool = True) -> None:
        """A member edits their message; MESSAGE_UPDATE carries the whole message, as Discord sends it now."""
        message.content = content
        message.edits += 1
        if dispatch:
            self.dispatch("MESSAGE_UPDATE", self._user_message_payload(message))

    def delete_user_message(self, message: Message, *, dispatch: bool = True) -> None:
        message.deleted = True
        if dispatch:
            payload: Json = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                payload["guild_id"] = str(message.guild_id)
            self.dispatch("MESSAGE_DELETE", payload)

    def pin(self, message: Message, *, dispatch: bool = True) -> None:
        """Pin a message (newest pin first in GET pins); CHANNEL_PINS_UPDATE tells the channel's pins changed."""
        message.pinned_at = _iso()
        if dispatch:
            self.dispatch(
                "CHANNEL_PINS_UPDATE",
                {
                    "guild_id": str(message.guild_id),
                    "channel_id": str(message.channel_id),
                    "last_pin_timestamp": message.pinned_at,
                },
            )

    def _user_message_payload(self, message: Message) -> Json:
        payload = self.message_payload(message)
        if message.guild_id is not None:
            member = message.author.member()
            del member["user"]
            payload["member"] = member
        return payload

    def messages_in(self, channel_id: int) -> list[Message]:
        return [m for m in self.messages.values() if m.channel_id == channel_id and not m.deleted]

    def bot_messages_in(self, channel_id: int) -> list[Message]:
        return [m for m in self.messages_in(channel_id) if m.author.id == self.bot_user.id]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 15) -> Any:
        """Wait until `condition()` is truthy (checked after every request the bot makes); returns its value."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)
        return condition()

    async def wait_for_request(self, method: str, path_regex: str, timeout: float = 15) -> Request:
        pattern = re.compile(path_regex)

        def found() -> Request | None:
            return next((r for r in self.requests if r.method == method and pattern.search(r.path)), None)

        return await self.wait_for(found, timeout)

    def revoke_token(self) -> None:
        """The bot's token stops working, as after "Reset Token" in the Developer Portal: REST 401, gateway 4004."""
        self.valid_tokens.clear()

    def fail_next(
        self, path_regex: str, status: int, *, times: int = 1, retry_after: float = 0.05, body_contains: str = ""
    ) -> None:
        """The next `times` REST calls whose path matches (and whose JSON body holds `body_contains`) answer `status`
        (429 with `retry_after`)."""
        for _ in range(times):
            self._faults.append((re.compile(path_regex), status, retry_after, body_contains))

    # ----- gateway --------------------------------------------------------------------------------------------------

    def guilds_on(self, shard_id: int, shard_count: int) -> list[int]:
        return [g for g in self.guild_ids if shard_of(g, shard_count) == shard_id]

    @property
    def sessions(self) -> list[GatewaySession]:
        """Identified sessions, one per shard that is (or was last) connected."""
        return list(self._sessions.values())

    def session_of(self, guild_id: int | None) -> GatewaySession | None:
        """The session a guild's events (guild_id None: DMs) go to now, or None when no shard holds it."""
        return next((s for s in reversed(self._sessions.values()) if s.holds(guild_id)), None)

    def dispatch(self, event: str, payload: Json) -> None:
        """Send a dispatch (op 0) on the shard holding its guild (DMs: shard 0) now, or keep it for replay if that
        shard is between connections. With no session for the shard it is lost, as on Discord."""
        guild = payload.get("guild_id") or (payload.get("id") if event == "GUILD_CREATE" else None)
        session = self.session_of(int(guild) if guild else None)
        if session is None:
            return
        self._dispatch_on(session, event, payload)

    def _dispatch_on(self, session: GatewaySession, event: str, payload: Json) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": payload}
        session.events.append((session.seq, frame))
        if session.ws.closed or not session.connected.is_set():
            return
        if self._together is not None:
            self._together.append((session, frame))
        else:
            asyncio.get_running_loop().create_task(self._send(session.ws, session.compress, frame))

    @contextlib.contextmanager
    def at_once(self) -> Iterator[None]:
        """Dispatches made inside leave together when it ends, in order: on each connection, all are serialized and
        compressed first, then written back to back (as Discord delivers what many members did in the same instant).
        Sent one by one,
        each as soon as it is compressed, a burst of 200 spreads over milliseconds, and over fewer with a faster
        compression: a benchmark comparing two bots would time the fake's compression as much as the bots."""
        if self._together is not None:
            raise RuntimeError("at_once() is already holding dispatches")
        held: list[tuple[GatewaySession, Json]] = []
        self._together = held
        try:
            yield
        finally:
            # Sent even when the block raised: their sequence numbers are taken, and a client would see the gap.
            self._together = None
            asyncio.get_running_loop().create_task(self._send_together(held))

    async def _send_together(self, held: list[tuple[GatewaySession, Json]]) -> None:
        """Each connection's share of `held`, in order: all of it encoded, then written back to back."""
        for session in dict.fromkeys(s for s, _ in held):
            frames = [frame for s, frame in held if s is session]
            async with self._sending_on(session.ws):
                encoded = [self._encode(session.compress, frame) for frame in frames]
                for data, frame in zip(encoded, frames, strict=True):
                    await self._write(session.ws, data, frame)

    def dispatch_voice_server_update(self, guild_id: int, endpoint: str, token: str) -> None:
        self.dispatch("VOICE_SERVER_UPDATE", {"guild_id": str(guild_id), "endpoint": endpoint, "token": token})

    def dispatch_voice_state_update(self, user: User, channel_id: int | None, session_id: str, guild_id: int) -> None:
        self.dispatch(
            "VOICE_STATE_UPDATE",
            {
                "guild_id": str(guild_id),
                "channel_id": str(channel_id) if channel_id else None,
                "user_id": str(user.id),
                "member": user.member(),
                "session_id": session_id,
                "deaf": False,
                "mute": False,
                "self_deaf": False,
                "self_mute": False,
                "self_video": False,
                "suppress": False,
                "request_to_speak_timestamp": None,
            },
        )

    async def reconnect(self, shard_id: int = 0) -> None:
        """Ask the shard to reconnect (op 7); it resumes and gets the events it missed."""
        session = next(s for s in reversed(self._sessions.values()) if s.shard_id == shard_id)
        session.connected.clear()
        await self._send(session.ws, session.compress, {"op": 7, "d": None})

    async def hold_events(self) -> None:
        """Stop delivering dispatches (they are kept); the next `reconnect()` replays them on RESUME."""
        for session in self._sessions.values():
            session.connected.clear()

    async def _send(self, ws: web.WebSocketResponse, compress: Callable[[bytes], bytes] | None, frame: Json) -> None:
        async with self._sending_on(ws):
            if not ws.closed:
                await self._write(ws, self._encode(compress, frame), frame)

    def _sending_on(self, ws: web.WebSocketResponse) -> asyncio.Lock:
        """Held while one of this connection's frames is compressed and written."""
        return self._sending.setdefault(ws, asyncio.Lock())

    @staticmethod
    def _encode(compress: Callable[[bytes], bytes] | None, frame: Json) -> str | bytes:
        """A frame as it goes on the wire: JSON text, or compressed bytes where the client asked for compression."""
        raw = json.dumps(frame)
        return raw if compress is None else compress(raw.encode())

    async def _write(self, ws: web.WebSocketResponse, data: str | bytes, frame: Json) -> None:
        if ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            if isinstance(data, str):
                await ws.send_str(data)
            else:
                await ws.send_bytes(data)
        if frame.get("t") == "INTERACTION_CREATE":
            handle = self.interactions.get(frame["d"]["token"])
            if handle is not None and handle.sent is None:
                handle.sent = self.now()

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compress = _stream_compressor(request.query.get("compress"))
        session: GatewaySession | None = None
        await self._send(ws, compress, {"op": 10, "d": {"heartbeat_interval": 45_000}})
        async for msg in ws:
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                continue
            frame = json.loads(msg.data)  # hikari sends plain (uncompressed) JSON, in binary frames
            self.gateway_ops.append(frame)
            async with self._changed:  # `wait_for` conditions may depend on what the bot sends here too
                self._changed.notify_all()
            op = frame["op"]
            if op == 1:
                await self._send(ws, compress, {"op": 11})
            elif op == 2:
                if code := self._identify_problem(frame["d"]):
                    self.closes.append(code[0])
                    await ws.close(code=code[0], message=code[1].encode())
                    break
                session = await self._identify(ws, compress, frame["d"])
            elif op == 6:
                session = await self._resume(ws, compress, frame["d"])
            elif op == 4:
                await self._voice_state_update(session, frame["d"])
        if session is not None and session.ws is ws:
            session.connected.clear()
        return ws

    async def _identify(
        self, ws: web.WebSocketResponse, compress: Callable[[bytes], bytes] | None, identify: Json
    ) -> GatewaySession | None:
        shard_id, shard_count = (int(v) for v in identify.get("shard") or (0, 1))
        bucket, now = shard_id % self.max_concurrency, self.now()
        last = self._last_identify.get(bucket)
        if last is not None and now - last < self.identify_window_s:
            self.identify_refusals.append((shard_id, shard_count))
            await self._send(ws, compress, {"op": 9, "d": False})
            return None
        self._last_identify[bucket] = now
        self.identifies += 1
        self.identified.append((shard_id, shard_count, now))
        for old in [k for k, s in self._sessions.items() if s.shard_id == shard_id]:
            stale = self._sessions.pop(old)  # a new session for the shard replaces the old one, as on Discord
            if stale.ws is not ws and not stale.ws.closed:
                await stale.ws.close()
        session_id = f"fake-session-{next(self._session_ids)}"
        session = GatewaySession(shard_id, shard_count, session_id, ws, compress)
        self._sessions[session_id] = session
        session.connected.set()
        self.ready.set()
        self._dispatch_on(session, "READY", self.ready_payload((shard_id, shard_count), session_id))
        for guild in self.guilds_on(shard_id, shard_count):
            self._dispatch_on(session, "GUILD_CREATE", self.guild_payload(guild))
        return session

    async def _resume(
        self, ws: web.WebSocketResponse, compress: Callable[[bytes], bytes] | None, resume: Json
    ) -> GatewaySession | None:
        session = self._sessions.get(str(resume.get("session_id")))
        if session is None:
            await self._send(ws, compress, {"op": 9, "d": False})
            return None
        self.resumes += 1
        previous, session.ws, session.compress = session.ws, ws, compress
        if previous is not ws and not previous.closed:
            await previous.close()
        since = int(resume["seq"])
        for seq, event in session.events:
            if seq > since:
                await self._send(ws, compress, event)
        session.connected.set()
        session.seq += 1
        await self._send(ws, compress, {"op": 0, "t": "RESUMED", "s": session.seq, "d": {}})
        return session

    async def _voice_state_update(self, session: GatewaySession | None, update: Json) -> None:
        """Op 4 is acted on only from the shard holding the guild; elsewhere it is kept for tests to assert against."""
        guild = update.get("guild_id")
        if session is None or not session.holds(int(guild) if guild else None):
            self.misrouted_voice_updates.append(update)
            return
        if self.on_voice_state_update is not None:
            result = self.on_voice_state_update(update)
            if asyncio.iscoroutine(result):
                await result

    def _identify_problem(self, identify: Json) -> tuple[int, str] | None:
        if identify.get("token") not in self.valid_tokens:
            return 4004, "Authentication failed."
        if int(identify.get("intents", 0)) & PRIVILEGED_INTENTS & ~self.privileged_intents:
            return 4014, "Disallowed intent(s)."
        shard = identify.get("shard") or [0, 1]
        valid = isinstance(shard, list) and len(shard) == 2 and all(isinstance(v, int) for v in shard)
        if not valid or not 0 <= shard[0] < shard[1]:
            return 4010, "Invalid shard."
        if len(self.guilds_on(shard[0], shard[1])) > self.max_guilds_per_shard:
            return 4011, "Sharding required."
        return None

    # ----- REST -------------------------------------------------------------------------------------------------

    async def _serve_file(self, request: web.Request) -> web.Response:
        data = self._files.get(int(request.match_info["id"]))
        self.file_downloads.append(int(request.match_info["id"]))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = await self._read_body(request)
        record = Request(request.method, path, self.now(), body, dict(request.query))
        self.requests.append(record)
        try:
            if not TOKEN_IN_PATH.fullmatch(path) and request.headers.get("Authorization") not in {
                f"Bot {token}" for token in self.valid_tokens
            }:
                return web.json_response(UNAUTHORIZED, status=401)
            for i, (pattern, status, retry_after, needle) in enumerate(self._faults):
                if pattern.search(path) and needle in json.dumps(body):
                    del self._faults[i]
                    if status == 429:
                        return web.json_response(
                            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
                            status=429,
                            headers={"Retry-After": str(retry_after), "X-RateLimit-Scope": "user"},
                        )
                    known = {403: ("Missing Access", 50001), 404: ("Unknown Channel", 10003)}
                    message, code = known.get(status, (f"{status}: Internal Server Error", 0))
                    return web.json_response({"message": message, "code": code}, status=status)
            if self.rest_gate is not None:
                await self.rest_gate(record)
            return await self._route(request.method, path, body, files, request)
        finally:
            async with self._changed:
                self._changed.notify_all()

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Attachment]]:
        if not request.can_read_body:
            return None, []
        if request.content_type.startswith("multipart/"):
            body: Any = None
            files: list[Attachment] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    files.append(
                        Attachment(part.filename or "file", part.headers.get("Content-Type"), bytes(await part.read()))
                    )
            return body, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), []

    async def _route(
        self, method: str, path: str, body: Any, files: list[Attachment], request: web.Request
    ) -> web.StreamResponse:
        app = str(self.application_id)
        m: re.Match[str] | None
        if method == "GET" and path == "/gateway/bot":
            return web.json_response(
                {
                    "url": f"ws://127.0.0.1:{self.port}/gateway",
                    "shards": self.shard_count,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 1000 - self.identifies,
                        "reset_after": 86_400_000,
                        "max_concurrency": self.max_concurrency,
                    },
                }
            )
        if method == "GET" and path == "/users/@me":
            return web.json_response(self.bot_user.payload() | {"mfa_enabled": False, "verified": True, "flags": 0})
        if method == "GET" and path == "/oauth2/applications/@me":
            return web.json_response(self.application_payload())
        if m := re.fullmatch(rf"/applications/{app}(?:/guilds/(\d+))?/commands", path):
            guild = int(m.group(1)) if m.group(1) else None
            if method == "GET":
                return web.json_response(self.commands.get(guild, []))
            if method == "PUT":
                errors = FormErrors()
                check_commands(body or [], errors)
                if (refused := errors.response()) is not None:
                    return refused
                self.commands[guild] = [self._stored_command(c, guild) for c in body or []]
                self.commands_synced.set()
                return web.json_response(self.commands[guild])
        if method == "POST" and (m := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path)):
            return await self._callback(m.group(2), body, files)
        if m := re.fullmatch(rf"/webhooks/{app}/([^/]+)(?:/messages/(@original|\d+))?", path):
            return await self._webhook(method, m.group(1), m.group(2), body, files)
        if method == "GET" and (m := re.fullmatch(r"/channels/(\d+)/messages(/pins)?", path)):
            return self._history(int(m.group(1)), request, pins=bool(m.group(2)))
        if method == "POST" and (m := re.fullmatch(r"/channels/(\d+)/messages/(\d+)/threads", path)):
            return self._start_thread(int(m.group(1)), int(m.group(2)), body or {})
        if m := re.fullmatch(r"/channels/(\d+)/messages(?:/(\d+))?", path):
            return self._channel_message(method, int(m.group(1)), m.group(2), body, files)
        if method == "POST" and (m := re.fullmatch(r"/channels/(\d+)/typing", path)):
            known = self._channel_known(int(m.group(1)))
            return web.Response(status=204) if known else web.json_response(UNKNOWN_CHANNEL, status=404)
        if method == "GET" and (m := re.fullmatch(r"/channels/(\d+)", path)):
            channel = int(m.group(1))
            if not self._channel_known(channel):
                return web.json_response(UNKNOWN_CHANNEL, status=404)
            if channel in self.threads:
                return web.json_response(self.threads[channel])
            for guild in (self.guild_id, self.other_guild_id):
                for c in self.guild_payload(guild)["channels"]:
                    if int(c["id"]) == channel:
                        return web.json_response(c)
        if method == "GET" and (m := re.fullmatch(r"/guilds/(\d+)", path)):
            if int(m.group(1)) in (self.guild_id, self.other_guild_id):
                guild = self.guild_payload(int(m.group(1)))
                rest_only = {"max_members": 500_000, "max_presences": None}
                return web.json_response(
                    {k: v for k, v in guild.items() if k not in GATEWAY_ONLY_GUILD_FIELDS} | rest_only
                )
            return web.json_response({"message": "Unknown Guild", "code": 10004}, status=404)
        if method == "GET" and (m := re.fullmatch(r"/guilds/(\d+)/members/(\d+)", path)):
            user = self.users.get(int(m.group(2)))
            if user is not None:
                return web.json_response(user.member())
        if method == "POST" and path == "/users/@me/channels":
            user = self.users[int(body["recipient_id"])]
            return web.json_response(
                {"id": str(self.dm_channel(user)), "type": 1, "last_message_id": None, "recipients": [user.payload()]}
            )
        self.unknown.append(self.requests[-1])
        return web.json_response({"message": "Unknown route (fake)", "code": 0}, status=404)

    def _command_named(self, name: str, guild_id: int | None) -> Json:
        for command in self.commands.get(guild_id, []) + self.commands.get(None, []):
            if command["name"] == name:
                return command
        if guild_id is None and any(c["name"] == name for cs in self.commands.values() for c in cs):
            # As Discord: a command registered in a guild is offered in that guild only, never in a DM.
            raise AssertionError(f"/{name} is registered in a server only: Discord does not offer it in a DM")
        return {}

    def _offered(self, name: str, guild_id: int | None) -> Json:
        """The registered command, where Discord would offer it: a global command whose `contexts` leave DMs out
        (BOT_DM is 1) is not offered in a DM."""
        command = self._command_named(name, guild_id)
        contexts = command.get("contexts")
        if guild_id is None and contexts is not None and 1 not in contexts:
            raise AssertionError(f"/{name} is for servers only ({contexts=}): Discord does not offer it in a DM")
        return command

    def _stored_command(self, payload: Json, guild_id: int | None) -> Json:
        stored = {
            "id": str(self.snowflake()),
            "application_id": str(self.application_id),
            "version": str(self.snowflake()),
            "type": payload.get("type", 1),
            "name": payload["name"],
            "description": payload.get("description", ""),
            "name_localizations": payload.get("name_localizations"),
            "description_localizations": payload.get("description_localizations"),
            "options": payload.get("options", []),
            "default_member_permissions": payload.get("default_member_permissions"),
            "nsfw": payload.get("nsfw", False),
            "contexts": payload.get("contexts"),
            "integration_types": payload.get("integration_types", [0]),
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        return stored

    def _number_components(self, components: list[Json] | None) -> list[Json]:
        counter = itertools.count(1)

        def number(items: list[Json]) -> list[Json]:
            out: list[Json] = []
            for item in items:
                copy = dict(item)
                copy["id"] = next(counter)
                if "components" in copy:
                    copy["components"] = number(copy["components"])
                out.append(copy)
            return out

        return number(components or [])

    def _new_message(
        self, channel_id: int, guild_id: int | None, data: Json, files: list[Attachment], **extra: Any
    ) -> Message:
        message = Message(
            id=self.snowflake(),
            channel_id=channel_id,
            guild_id=guild_id,
            author=self.bot_user,
            content=data.get("content") or "",
            components=self._number_components(data.get("components")),
            embeds=list(data.get("embeds") or []),
            attachments=list(files),
            flags=int(data.get("flags") or 0),
            **extra,
        )
        self.messages[message.id] = message
        return message

    def _apply_edit(self, message: Message, data: Json, files: list[Attachment]) -> None:
        if "content" in data:
            message.content = data["content"] or ""
        if "components" in data:
            message.components = self._number_components(data["components"])
        if "embeds" in data:
            message.embeds = list(data["embeds"] or [])
        if files:
            message.attachments = list(files)
        elif "attachments" in data and not data["attachments"]:
            message.attachments = []
        message.edits += 1

    def message_payload(self, message: Message) -> Json:
        payload: Json = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": message.author.payload(),
            "content": message.content,
            "timestamp": _iso(),
            "edited_timestamp": _iso() if message.edits else None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [
                {
                    "id": str(self.snowflake()),
                    "filename": a.filename,
                    "size": len(a.data),
                    "url": "http://127.0.0.1/none",
                    "proxy_url": "http://127.0.0.1/none",
                    **({"content_type": a.content_type} if a.content_type else {}),
                }
                for a in message.attachments
            ]
            + message.posted_attachments,
            "embeds": message.embeds,
            "pinned": message.pinned_at is not None,
            "type": 19 if message.reply_to else 0,
            "flags": message.flags,
            "components": message.components,
        }
        if message.guild_id is not None:
            payload["guild_id"] = str(message.guild_id)
        if message.interaction_token:
            payload["webhook_id"] = str(self.application_id)
            payload["application_id"] = str(self.application_id)
        if message.reply_to:
            payload["message_reference"] = {"message_id": str(message.reply_to), "channel_id": str(message.channel_id)}
        return payload

    def _interaction_location(self, handle: InteractionHandle) -> tuple[int, int | None]:
        payload = handle.payload
        return int(payload["channel_id"]), int(payload["guild_id"]) if "guild_id" in payload else None

    async def _callback(self, token: str, body: Json, files: list[Attachment]) -> web.Response:
        handle = self.interactions.get(token)
        if handle is None or (handle.callback is None and handle.age > self.ack_window_s):
            # Not answered within 3 s: Discord has invalidated the token, as if the interaction never was.
            return web.json_response(UNKNOWN_INTERACTION, status=404)
        if handle.callback is not None:
            return web.json_response(
                {"message": "Interaction has already been acknowledged.", "code": 40060}, status=400
            )
        kind = int(body["type"])
        data = body.get("data") or {}
        errors = FormErrors()
        if kind in (4, 7):
            check_message(data, errors)
        elif kind == 8:
            check_choices(data, errors)
        elif kind == 9:
            check_modal(data, errors)
        if (refused := errors.response("data")) is not None:
            return refused
        source = handle.payload.get("message")
        updated = self.messages.get(int(source["id"])) if kind == 7 and source else None
        if kind == 4 and is_empty(
            data.get("content"), data.get("embeds") or [], data.get("components") or [], len(files)
        ):
            return web.json_response(EMPTY_MESSAGE, status=400)
        if updated is not None and self._edit_leaves_empty(updated, data, files):
            return web.json_response(EMPTY_MESSAGE, status=400)
        channel, guild = self._interaction_location(handle)
        event = Event("callback", self.now(), body, list(files), type=kind)
        if kind in (4, 5):
            handle.original = self._new_message(channel, guild, data, files, interaction_token=token)
            event.message_id = handle.original.id
        elif updated is not None:
            self._apply_edit(updated, data, files)
            event.message_id = updated.id
        await handle._record(event)
        interaction = {"id": str(handle.id), "type": int(handle.payload["type"])}
        if event.message_id is not None:
            interaction |= {
                "response_message_id": str(event.message_id),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
            }
        response: Json = {"interaction": interaction}
        if kind == 4 and handle.original is not None:
            response["resource"] = {"type": kind, "message": self.message_payload(handle.original)}
        return web.json_response(response)

    def _edit_leaves_empty(self, message: Message, data: Json, files: list[Attachment]) -> bool:
        content = data.get("content", message.content)
        embeds = data.get("embeds", message.embeds)
        components = data.get("components", message.components)
        kept = len(message.attachments) if "attachments" not in data or data["attachments"] else 0
        return is_empty(content, embeds or [], components or [], len(files) or kept)

    async def _webhook(
        self, method: str, token: str, target: str | None, body: Json | None, files: list[Attachment]
    ) -> web.Response:
        handle = self.interactions.get(token)
        if handle is None:
            return web.json_response(UNKNOWN_WEBHOOK, status=404)
        if handle.age > self.token_lifetime_s:
            return web.json_response(INVALID_WEBHOOK_TOKEN, status=401)
        if handle.callback is None:  # no webhook until the interaction is answered (and never, past 3 s)
            return web.json_response(UNKNOWN_WEBHOOK, status=404)
        channel, guild = self._interaction_location(handle)
        data = body or {}
        if method in ("POST", "PATCH"):
            errors = FormErrors()
            check_message(data, errors)
            if (refused := errors.response()) is not None:
                return refused
        if target is None and method == "POST":
            if is_empty(data.get("content"), data.get("embeds") or [], data.get("components") or [], len(files)):
                return web.json_response(EMPTY_MESSAGE, status=400)
            message = self._new_message(channel, guild, data, files, interaction_token=token)
            handle.followups.append(message)
            await handle._record(Event("followup", self.now(), data, list(files), message_id=message.id))
            return web.json_response(self.message_payload(message))
        if target == "@original":
            message = handle.original
            if message is None and handle.callback.type in (6, 7):  # @original is the message the component is on
                source = handle.payload.get("message")
                message = self.messages.get(int(source["id"])) if source else None
        else:  # a follow-up of this interaction; another's messages are unknown to this token
            message = next((m for m in handle.followups if m.id == int(target or 0)), None)
        if message is None or message.deleted:
            return web.json_response(UNKNOWN_MESSAGE, status=404)
        if method == "GET":
            return web.json_response(self.message_payload(message))
        if method == "PATCH":
            if self._edit_leaves_empty(message, data, files):
                return web.json_response(EMPTY_MESSAGE, status=400)
            self._apply_edit(message, data, files)
            kind = "edit" if target == "@original" else "followup-edit"
            await handle._record(Event(kind, self.now(), data, list(files), message_id=message.id))
            return web.json_response(self.message_payload(message))
        if method == "DELETE":
            message.deleted = True
            await handle._record(Event("delete", self.now(), {}, message_id=message.id))
            return web.Response(status=204)
        return web.json_response({"message": "Method not allowed", "code": 0}, status=405)

    def _channel_known(self, channel: int) -> bool:
        guild_channels = (self.channel_id, self.other_channel_id, self.chat_channel_id, self.voice_channel_id)
        others = (self.other_guild_channel_id, self.other_guild_voice_channel_id)
        return channel in guild_channels + others or channel in self.threads or channel in self.dm_channels.values()

    def _channel_message(
        self, method: str, channel: int, target: str | None, body: Json | None, files: list[Attachment]
    ) -> web.Response:
        if not self._channel_known(channel):
            return web.json_response(UNKNOWN_CHANNEL, status=404)
        data = body or {}
        if method in ("POST", "PATCH"):
            errors = FormErrors()
            check_message(data, errors)
            if (refused := errors.response()) is not None:
                return refused
        guild = None if channel in self.dm_channels.values() else self._guild_of_channel(channel)
        if method == "POST" and target is None:
            if is_empty(data.get("content"), data.get("embeds") or [], data.get("components") or [], len(files)):
                return web.json_response(EMPTY_MESSAGE, status=400)
            reference = data.get("message_reference") or {}
            reply_to = int(reference["message_id"]) if reference.get("message_id") else None
            message = self._new_message(channel, guild, data, files, reply_to=reply_to)
            return web.json_response(self.message_payload(message))
        message = self.messages.get(int(target or 0))
        # An ephemeral message lives in its interaction alone: the channel's endpoints do not know it.
        if message is None or message.deleted or message.channel_id != channel or message.flags & EPHEMERAL:
            return web.json_response(UNKNOWN_MESSAGE, status=404)
        if method == "PATCH":
            if message.author.id != self.bot_user.id:
                return web.json_response(NOT_THE_AUTHOR, status=403)
            if self._edit_leaves_empty(message, data, files):
                return web.json_response(EMPTY_MESSAGE, status=400)
            self._apply_edit(message, data, files)
            return web.json_response(self.message_payload(message))
        if method == "GET":
            return web.json_response(self.message_payload(message))
        if method == "DELETE":
            message.deleted = True
            return web.Response(status=204)
        return web.json_response({"message": "Method not allowed", "code": 0}, status=405)

    def _rate_limit_headers(self, channel: int) -> tuple[dict[str, str], float | None]:
        """Count a history request against its channel's bucket: the headers to send, and the retry-after when the
        bucket was already empty (a 429)."""
        now = time.monotonic()
        start, used = self._history_buckets.get(channel, (now, 0))
        if now - start >= self.history_window_s:
            start, used = now, 0
        reset_after = max(0.0, self.history_window_s - (now - start))
        if used >= self.history_rate:
            return {}, reset_after
        used += 1
        self._history_buckets[channel] = (start, used)
        headers = {
            "X-RateLimit-Limit": str(self.history_rate),
            "X-RateLimit-Remaining": str(self.history_rate - used),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"history-{channel}",
        }
        return headers, None

    def _history(self, channel: int, request: web.Request, *, pins: bool) -> web.Response:
        """GET /channels/{id}/messages (before | after | around, limit 1–100, newest first) and
        GET /channels/{id}/messages/pins (before an ISO time, limit 1–50, newest pin first, has_more), as Discord
        answers them: 404 for an unknown channel, 403 without View Channel and Read Message History."""
        if not self._channel_known(channel):
            return web.json_response(UNKNOWN_CHANNEL, status=404)
        headers, retry_after = self._rate_limit_headers(channel)
        if retry_after is not None:
            self.rate_limited.append(self.requests[-1])
            return web.json_response(
                {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
                status=429,
                headers={"Retry-After": f"{retry_after:.3f}", "X-RateLimit-Scope": "user"},
            )
        parent = int(self.threads[channel]["parent_id"]) if channel in self.threads else channel
        needs = VIEW_CHANNEL | READ_MESSAGE_HISTORY
        if self._guild_of_channel(channel) is not None and self.permissions_in(self.bot_user, parent) & needs != needs:
            return web.json_response(MISSING_ACCESS, status=403, headers=headers)
        query = request.query
        most = PINS_LIMIT if pins else HISTORY_LIMIT
        try:
            limit = int(query.get("limit", str(most if pins else 50)))
        except ValueError:
            limit = -1
        anchors = [k for k in ("before", "after", "around") if k in query]
        if not 1 <= limit <= most or (pins and anchors not in ([], ["before"])) or len(anchors) > 1:
            errors = {"limit": {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": f"Must be {most} or fewer."}]}}
            return web.json_response({"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400)
        in_channel = sorted(
            (m for m in self.messages.values() if m.channel_id == channel and not m.deleted), key=lambda m: m.id
        )
        if pins:
            pinned = sorted((m for m in in_channel if m.pinned_at), key=lambda m: m.pinned_at or "", reverse=True)
            if "before" in query:
                before = dt.datetime.fromisoformat(query["before"])
                pinned = [m for m in pinned if dt.datetime.fromisoformat(m.pinned_at or "") < before]
            page = pinned[:limit]
            items = [{"pinned_at": m.pinned_at, "message": self._user_message_payload(m)} for m in page]
            return web.json_response({"items": items, "has_more": len(pinned) > limit}, headers=headers)
        if "after" in query:
            chosen = [m for m in in_channel if m.id > int(query["after"])][:limit]
        elif "around" in query:
            around = int(query["around"])
            older = [m for m in in_channel if m.id < around][-(limit // 2) :] if limit > 1 else []
            newer = [m for m in in_channel if m.id >= around][: limit - len(older)]
            chosen = older + newer
        else:
            before = int(query["before"]) if "before" in query else None
            chosen = [m for m in in_channel if before is None or m.id < before][-limit:]
        payloads = [self._user_message_payload(m) for m in reversed(chosen)]  # newest first, as Discord sends them
        return web.json_response(payloads, headers=headers)

    def _start_thread(self, channel: int, message_id: int, body: Json) -> web.Response:
        """POST /channels/{id}/messages/{id}/threads: a public thread whose id is the message's, as Discord makes it;
        the bot then gets THREAD_CREATE (newly_created) with itself as a member."""
        text_channels = (self.channel_id, self.other_channel_id, self.chat_channel_id, self.other_guild_channel_id)
        if channel not in text_channels:  # DMs, voice channels and threads hold no threads
            return web.json_response(
                {"message": "Cannot execute action on this channel type", "code": 50024}, status=400
            )
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.channel_id != channel or message.flags & EPHEMERAL:
            return web.json_response({"message": "Unknown Message", "code": 10008}, status=404)
        if message_id in self.threads:
            return web.json_response(
                {"message": "A thread has already been created for this message", "code": 160004}, status=400
            )
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            return web.json_response(
                {"message": "Invalid Form Body", "code": 50035, "errors": {"name": {"_errors": []}}}, status=400
            )
        duration = body.get("auto_archive_duration", 4320)
        if duration not in (60, 1440, 4320, 10080):
            return web.json_response({"message": "Invalid Form Body", "code": 50035}, status=400)
        guild = self._guild_of_channel(channel)
        thread: Json = {
            "id": str(message_id),
            "type": 11,
            "guild_id": str(guild),
            "name": name,
            "parent_id": str(channel),
            "owner_id": str(self.bot_user.id),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": duration,
                "archive_timestamp": _iso(),
                "locked": False,
                "create_timestamp": _iso(),
            },
        }
        self.threads[message_id] = thread
        member = {"id": str(message_id), "user_id": str(self.bot_user.id), "join_timestamp": _iso(), "flags": 0}
        self.dispatch("THREAD_CREATE", thread | {"newly_created": True, "member": member})
        return web.json_response(thread, status=201)

    def _guild_of_channel(self, channel: int) -> int | None:
        if channel in self.threads:
            return int(self.threads[channel]["guild_id"])
        if channel in (self.channel_id, self.other_channel_id, self.chat_channel_id, self.voice_channel_id):
            return self.guild_id
        if channel in (self.other_guild_channel_id, self.other_guild_voice_channel_id):
            return self.other_guild_id
        return None
