"""Discord's side of the languages: a command answers in its member's language, a server's own locale is found from
the cache or Discord, and command descriptions come in Russian for Russian clients only."""

from __future__ import annotations

import asyncio

import hikari
import lightbulb

from bot.discord.language import command_localizations, guild_locale, speak_member_language
from bot.i18n import _, current_language

TOO_FAST = "You're asking too fast. Try again in {seconds} s."


class Guild:
    def __init__(self, locale: str) -> None:
        self.preferred_locale = hikari.Locale(locale)


class Rest:
    """Discord's REST side, fetching a server; counts the calls so a cached server is seen not to cost one."""

    def __init__(self, guilds: dict[int, Guild]) -> None:
        self.guilds = guilds
        self.fetched: list[int] = []

    async def fetch_guild(self, guild_id: int) -> Guild:
        self.fetched.append(guild_id)
        if guild_id not in self.guilds:
            raise hikari.NotFoundError(
                url="https://discord.com/api/guilds", headers={}, raw_body=b"", message="Unknown Guild"
            )
        return self.guilds[guild_id]


class Cache:
    def __init__(self, guilds: dict[int, Guild]) -> None:
        self.guilds = guilds

    def get_guild(self, guild_id: int) -> Guild | None:
        return self.guilds.get(guild_id)


class Bot(hikari.RESTAware, hikari.CacheAware):
    """A bot with a cache and REST, as the gateway bot is (only what guild_locale reads)."""

    def __init__(self, cache: Cache, rest: Rest) -> None:
        self._cache = cache
        self._rest = rest

    @property
    def cache(self) -> Cache:  # type: ignore[override]
        return self._cache

    @property
    def rest(self) -> Rest:  # type: ignore[override]
        return self._rest

    # The rest of what hikari's protocols name; guild_locale reads none of it.
    entity_factory = executor = http_settings = proxy_settings = None  # type: ignore[assignment]


async def test_a_cached_server_gives_its_locale_without_asking_discord() -> None:
    rest = Rest({})
    bot = Bot(Cache({5: Guild("ru")}), rest)
    assert await guild_locale(bot, 5) == "ru"
    assert rest.fetched == []


async def test_a_server_not_in_the_cache_is_fetched_and_a_rest_only_client_asks_discord_directly() -> None:
    rest = Rest({6: Guild("de")})
    assert await guild_locale(Bot(Cache({}), rest), 6) == "de"
    assert await guild_locale(rest, 6) == "de"  # type: ignore[arg-type]
    assert rest.fetched == [6, 6]


async def test_no_server_or_one_discord_will_not_show_has_no_locale() -> None:
    rest = Rest({})
    assert await guild_locale(rest, None) is None  # type: ignore[arg-type]
    assert rest.fetched == []
    assert await guild_locale(Bot(Cache({}), rest), 7) is None  # Discord's 404 is not raised to the caller


class Interaction:
    def __init__(self, locale: str) -> None:
        self.locale = hikari.Locale(locale)


class Context:
    def __init__(self, locale: str) -> None:
        self.interaction = Interaction(locale)


async def test_each_command_speaks_its_own_members_language() -> None:
    assert speak_member_language.step == lightbulb.ExecutionSteps.MAX_CONCURRENCY  # before any check can refuse

    async def command(locale: str) -> str:
        await speak_member_language.func(object(), Context(locale))  # type: ignore[call-arg]
        return _(TOO_FAST, seconds=2)

    russian, english, german = await asyncio.gather(command("ru"), command("en-GB"), command("de"))
    assert russian != english and "2" in russian
    assert english == german == "You're asking too fast. Try again in 2 s."  # no German catalog: English
    assert current_language() == "en"  # a command's language stays in its own task


def test_a_description_is_english_everywhere_and_russian_for_russian_clients_only() -> None:
    described = command_localizations("Ask the bot a question")
    assert described[hikari.Locale.EN_US] == "Ask the bot a question"
    assert described[hikari.Locale.RU] == "Задать вопрос боту"
    assert hikari.Locale.UK not in described and hikari.Locale.DE not in described  # Discord falls back to English


def test_text_the_catalog_does_not_know_stays_english_with_no_translations() -> None:
    assert command_localizations("A description nobody wrote") == {hikari.Locale.EN_US: "A description nobody wrote"}
    assert command_localizations("ask") == {hikari.Locale.EN_US: "ask"}
