"""Discord's side of the bot's languages: every command answers in the member's language (a client-wide hook), a
server's preferred locale for what the bot posts on its own, and the commands' localised descriptions."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import hikari
import lightbulb

from bot.i18n import catalog, language_of, languages, use_language


@lightbulb.hook(lightbulb.ExecutionSteps.MAX_CONCURRENCY, name="member-language")
def speak_member_language(_pipeline: lightbulb.ExecutionPipeline, ctx: lightbulb.Context) -> None:
    """First of all hooks: checks' refusals, the command's replies and its errors are in the member's language."""
    use_language(ctx.interaction.locale)


async def guild_locale(app: hikari.RESTAware | hikari.api.RESTClient, guild_id: int | None) -> str | None:
    """A server's preferred locale (Community settings → Server Primary Language): from the cache, else Discord."""
    if guild_id is None:
        return None
    cache = app.cache if isinstance(app, hikari.CacheAware) else None
    guild = cache.get_guild(guild_id) if cache is not None else None
    if guild is not None:
        return str(guild.preferred_locale)
    rest = app.rest if isinstance(app, hikari.RESTAware) else app
    try:
        return str((await rest.fetch_guild(guild_id)).preferred_locale)
    except hikari.HTTPError:
        return None


def command_localizations(key: str) -> Mapping[hikari.Locale, str]:
    """lightbulb's localization provider: a command's or option's English text (the key) and its translations, for
    each Discord locale of each catalog language. Names are never in the catalog, so they stay English everywhere.
    lightbulb asks again at every command invocation: the answer is worked out once per key (a fresh dict each time,
    which the caller may keep)."""
    return dict(_localizations(key))


@functools.cache
def _localizations(key: str) -> tuple[tuple[hikari.Locale, str], ...]:
    found: dict[hikari.Locale, str] = {hikari.Locale.EN_US: key}
    for language in languages()[1:]:
        translated = catalog(language).gettext(key)
        if translated == key:
            continue
        for locale in hikari.Locale:
            if language_of(locale) == language:
                found[locale] = translated
    return tuple(found.items())
