"""The bot's own text in the member's language: gettext catalogs, the language of the moment, command localisations.

Catalogs are `bot/locales/<language>/LC_MESSAGES/teachbot.po` (Babel's toolchain: `pybabel extract` makes the
template `bot/locales/teachbot.pot`, `pybabel update` merges it into each language's .po). The .po files are the
source of truth and are compiled in memory when a language is first used, so no .mo file is committed or built.

Interface text follows the language of the interaction being answered (`speaking(interaction.locale)`, set once per
command, button and form); what the bot posts to a server on its own (notices, job announcements) follows the
server's preferred locale (`guild_locale` in bot/discord/language.py, which also gives lightbulb the commands'
descriptions). English is the source language and the fallback for every other. Nothing here imports Discord's
library: errors raised in the training service are written through the catalog too.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import io
from collections.abc import Generator
from contextvars import ContextVar
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "teachbot"
LOCALES = Path(__file__).parent / "locales"
SOURCE_LANGUAGE = "en"

_language: ContextVar[str] = ContextVar("teachbot_language", default=SOURCE_LANGUAGE)


def catalog_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def languages() -> tuple[str, ...]:
    """The languages with a catalog (English, the source language, needs none)."""
    found = sorted(p.name for p in LOCALES.iterdir() if p.is_dir() and catalog_path(p.name).is_file())
    return (SOURCE_LANGUAGE, *(name for name in found if name != SOURCE_LANGUAGE))


@functools.cache
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of `language` (fuzzy and empty translations left out, so they fall back to English)."""
    path = catalog_path(language)
    if language == SOURCE_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po_file:
        messages = read_po(po_file, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, messages, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def language_of(locale: str | None) -> str:
    """The catalog for a Discord locale: "ru" → ru, "pt-BR" → pt_BR where there is one, else pt, else English."""
    if not locale:
        return SOURCE_LANGUAGE
    tag = str(locale).replace("-", "_")
    for candidate in (tag, tag.split("_")[0].lower()):
        if candidate in languages():
            return candidate
    return SOURCE_LANGUAGE


def translate(message: str, language: str, /, **params: object) -> str:
    """`message` in `language`, its `{name}` placeholders filled from `params` (only when there are params)."""
    text = catalog(language).gettext(message) if message else message  # "" would be the catalog's header
    return text.format(**params) if params else text


def _(message: str, /, **params: object) -> str:
    """`message` in the language of the interaction (or server) being answered now; see `translate`."""
    return translate(message, _language.get(), **params)


def pgettext(context: str, message: str, /, **params: object) -> str:
    """`_` for a word that needs a context to be told apart: one that is also a command's or option's name (those
    stay English, and lightbulb asks the catalog for every name), or that means two things."""
    text = catalog(_language.get()).pgettext(context, message)
    return text.format(**params) if params else text


def N_(message: str, /) -> str:
    """Marks text for the catalog where it cannot be translated yet (module constants, command descriptions)."""
    return message


def current_language() -> str:
    return _language.get()


def use_language(locale: str | None) -> None:
    """Speak `locale` for the rest of this task (each interaction runs in its own task)."""
    _language.set(language_of(locale))


@contextlib.contextmanager
def speaking(locale: str | None) -> Generator[str]:
    """Speak `locale` inside the block (a notice to a server in the middle of someone's interaction)."""
    token = _language.set(language_of(locale))
    try:
        yield _language.get()
    finally:
        _language.reset(token)
