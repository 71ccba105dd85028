"""Buttons and forms: their callbacks get the services they ask for, and every failure reaches the member as one
short ephemeral message in their language (an error id for the unexpected), as a follow-up once they were answered."""

from __future__ import annotations

import logging
import re

import hikari
import lightbulb
import pytest

from bot.discord.handlers import ButtonHandler, ModalHandler
from bot.errors import InvalidInput
from bot.i18n import _
from tests.conftest import AllowedErrors


class Greeting:
    """A service the callbacks ask for by type."""

    text = "hello"


def client() -> lightbulb.Client:
    bot = hikari.GatewayBot("MTAwMA.fake.token", banner=None, logs=None)
    made = lightbulb.client_from_app(bot)
    made.di.registry_for(lightbulb.di.Contexts.DEFAULT).register_value(Greeting, Greeting())
    return made


class Interaction:
    def __init__(self, locale: str) -> None:
        self.locale = hikari.Locale(locale)


class Context:
    """A button's or form's context as the handlers use it: what was said, and how."""

    def __init__(self, locale: str = "en-US", *, responded: bool = False, unreachable: bool = False) -> None:
        self.interaction = Interaction(locale)
        self.has_responded = responded
        self.has_been_deferred = False
        self.unreachable = unreachable
        self.said: list[tuple[str, str, bool]] = []

    async def create_initial_response(self, content: str, *, ephemeral: bool = False) -> None:
        self._say("response", content, ephemeral)

    async def create_followup(self, content: str, *, ephemeral: bool = False) -> None:
        self._say("followup", content, ephemeral)

    def _say(self, how: str, content: str, ephemeral: bool) -> None:
        if self.unreachable:
            raise hikari.NotFoundError(url="https://discord.com/api", headers={}, raw_body=b"", message="Unknown")
        self.said.append((how, content, ephemeral))


async def test_a_button_callback_gets_the_services_it_asks_for() -> None:
    got: list[str] = []

    @lightbulb.di.with_di
    async def callback(ctx: Context, greeting: Greeting = lightbulb.di.INJECTED) -> None:
        got.append(greeting.text)

    context = Context()
    await ButtonHandler("greet", callback, client()).execute(context)  # type: ignore[arg-type]
    assert got == ["hello"] and context.said == []


async def test_a_refusal_is_one_short_ephemeral_message_in_the_members_language() -> None:
    async def callback(ctx: Context) -> None:
        raise InvalidInput(_("This button or form is out of date. Run the command again."))

    english, russian = Context("en-US"), Context("ru")
    await ButtonHandler("vote", callback, client()).execute(english)  # type: ignore[arg-type]
    await ModalHandler("form", callback, client()).execute(russian)  # type: ignore[arg-type]
    assert english.said == [("response", "This button or form is out of date. Run the command again.", True)]
    assert russian.said == [("response", "Эта кнопка или форма устарела. Запустите команду снова.", True)]


async def test_once_answered_the_refusal_comes_as_a_follow_up() -> None:
    async def callback(ctx: Context) -> None:
        raise InvalidInput("Too late.")

    answered = Context(responded=True)
    await ButtonHandler("vote", callback, client()).execute(answered)  # type: ignore[arg-type]
    assert answered.said == [("followup", "Too late.", True)]


async def test_an_unexpected_error_shows_only_an_error_id_that_the_log_holds(
    allowed_errors: AllowedErrors, caplog: pytest.LogCaptureFixture
) -> None:
    allowed_errors.expect(r"unexpected error [0-9a-f]{8} in button vote")

    async def callback(ctx: Context) -> None:
        raise KeyError("secret internals")

    context = Context()
    await ButtonHandler("vote", callback, client()).execute(context)  # type: ignore[arg-type]
    ((how, said, ephemeral),) = context.said
    error_id = re.search(r"error id `([0-9a-f]{8})`", said)
    assert (how, ephemeral) == ("response", True) and error_id is not None
    assert "secret internals" not in said
    assert f"unexpected error {error_id[1]} in button vote" in caplog.text


async def test_an_error_that_cannot_be_shown_is_only_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    async def callback(ctx: Context) -> None:
        raise InvalidInput("Nope.")

    with caplog.at_level(logging.WARNING, logger="bot.discord.handlers"):
        await ButtonHandler("vote", callback, client()).execute(Context(unreachable=True))  # type: ignore[arg-type]
    assert "could not show an error to the user" in caplog.text
