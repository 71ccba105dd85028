"""The bot's own text is all in the catalogs: the template matches the code, every message has its Russian
translation with the same placeholders, and no text is handed to Discord without going through the catalog."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import hikari
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot import i18n
from bot.discord.language import command_localizations
from bot.i18n import _, language_of, speaking, translate

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "bot" / "locales" / "teachbot.pot"
# Where the text shown to members is written; the model's prompts (bot/llm) are not the bot's interface.
SHOWN = [ROOT / "extensions", ROOT / "bot" / "discord"]
# Calls that put their text arguments in front of a member.
SHOWING = {
    "respond",
    "create_initial_response",
    "create_followup",
    "create_modal_response",
    "respond_with_modal",
    "edit_initial_response",
    "edit_last_response",
    "edit_response",
    "execute",
    "create_message",
    "edit_message",
    "tell_user",
    "Embed",
    "add_field",
    "set_footer",
    "set_author",
    "add_interactive_button",
    "add_link_button",
    "add_text_input",
    "add_option",
    "Field",
    "Card",
}
SHOWN_KEYWORDS = {"content", "label", "title", "description", "placeholder", "text", "name", "value"}
CODE = sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "extensions").glob("*.py")])


def user_errors() -> set[str]:
    """UserError and every class built on it: their messages are shown to members as they are."""
    found = {"UserError"}
    classes = [
        (n.name, {b.id for b in n.bases if isinstance(b, ast.Name)})
        for path in CODE
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.ClassDef)
    ]
    while True:
        more = {name for name, bases in classes if bases & found} - found
        if not more:
            return found
        found |= more


USER_ERRORS = user_errors()


def template() -> Catalog:
    with TEMPLATE.open("rb") as f:
        return read_po(f)


def translations(language: str) -> Catalog:
    with i18n.catalog_path(language).open("rb") as f:
        return read_po(f, locale=language)


def msgids(catalog: Catalog) -> set[tuple[str | None, str]]:
    return {(m.context, str(m.id)) for m in catalog if m.id}


def test_the_template_holds_exactly_the_messages_in_the_code() -> None:
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    in_code = {(m[4], str(m[2])) for m in extract_from_dir(str(ROOT), method_map, options_map)}
    hint = "run: pybabel extract -F babel.cfg --no-location --sort-output -o bot/locales/teachbot.pot ."
    assert in_code - msgids(template()) == set(), f"not in the template; {hint}"
    assert msgids(template()) - in_code == set(), f"no longer in the code; {hint}"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_russian_is_there() -> None:
    assert "ru" in i18n.languages()


@pytest.mark.parametrize("language", i18n.languages()[1:])
def test_every_message_has_a_translation_with_the_same_placeholders(language: str) -> None:
    catalog = translations(language)
    for message in template():
        if not message.id:
            continue
        translated = catalog.get(message.id, context=message.context)
        where = f"{message.id!r} in {i18n.catalog_path(language).relative_to(ROOT)} (pybabel update, then translate)"
        assert translated is not None, f"missing: {where}"
        assert translated.string and not translated.fuzzy, f"untranslated or fuzzy: {where}"
        assert placeholders(str(translated.string)) == placeholders(str(message.id)), f"placeholders differ: {where}"


def untranslated(node: ast.expr) -> bool:
    """A literal (or f-string) with words in it, not passed through the catalog."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(c.isalpha() for c in node.value)
    if isinstance(node, ast.JoinedStr):
        return any(untranslated(part) for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.BinOp):
        return untranslated(node.left) or untranslated(node.right)
    if isinstance(node, ast.IfExp):
        return untranslated(node.body) or untranslated(node.orelse)
    return False


def called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def bypasses(path: Path) -> list[str]:
    """Text shown untranslated: in what the bot hands to Discord (extensions, bot/discord), and in any user error."""
    shown = path.parent in SHOWN
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = called(node)
        if shown and name in SHOWING:
            texts = [*node.args, *(k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS)]
        elif name in USER_ERRORS:
            texts = node.args[:1]
        else:
            continue
        found += [f"{path.relative_to(ROOT)}:{t.lineno} {name}(…)" for t in texts if untranslated(t)]
    return found


def test_no_text_reaches_a_member_without_the_catalog() -> None:
    found = [line for path in CODE for line in bypasses(path)]
    assert found == [], "wrap these in _() (bot/i18n.py):\n" + "\n".join(found)


def test_the_scan_finds_unwrapped_text() -> None:
    code = 'ctx.respond(f"Done {n}.", ephemeral=True)\nraise NotFound("gone")\nctx.respond(_("Done."))\n'
    tree = ast.parse(code)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and called(n) in SHOWING | USER_ERRORS]
    flagged = [called(c) for c in calls if any(untranslated(a) for a in c.args)]
    assert sorted(flagged) == ["NotFound", "respond"]


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("ru", "ru"),
        (hikari.Locale.RU, "ru"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("de", "en"),
        ("pt-BR", "en"),
        (None, "en"),
    ],
)
def test_a_discord_locale_picks_its_catalog_or_english(locale: str | None, language: str) -> None:
    assert language_of(locale) == language


def test_text_follows_the_language_spoken_now_and_fills_placeholders_after_translating() -> None:
    message = "You're asking too fast. Try again in {seconds} s."
    assert _(message, seconds=3) == "You're asking too fast. Try again in 3 s."
    with speaking("ru"):
        assert "3" in _(message, seconds=3) and _(message, seconds=3) != translate(message, "en", seconds=3)
        with speaking("de"):
            assert _(message, seconds=3) == "You're asking too fast. Try again in 3 s."
    assert _(message, seconds=3).startswith("You're")


def test_command_descriptions_come_in_every_russian_client_locale_and_names_stay_english() -> None:
    described = command_localizations("Ask the bot a question")
    assert described[hikari.Locale.EN_US] == "Ask the bot a question"
    assert described[hikari.Locale.RU] == translate("Ask the bot a question", "ru") != "Ask the bot a question"
    assert command_localizations("ask") == {hikari.Locale.EN_US: "ask"}


def test_no_module_that_translates_rebinds_the_underscore() -> None:
    """`action, _, rest = ….partition(".")` would make `_("…")` below it call a string."""
    found: list[str] = []
    for path in CODE:
        tree = ast.parse(path.read_text(), str(path))
        imports = any(
            isinstance(n, ast.ImportFrom) and n.module == "bot.i18n" and any(a.name == "_" for a in n.names)
            for n in tree.body
        )
        if not imports:
            continue
        found += [
            f"{path.relative_to(ROOT)}:{n.lineno}"
            for n in ast.walk(tree)
            if (isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store))
            or (isinstance(n, ast.arg) and n.arg == "_")
        ]
    assert found == []
