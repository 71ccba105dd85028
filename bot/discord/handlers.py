"""Persistent buttons and modals (yuyo), registered per extension, given their services by lightbulb's DI, and routed
through the one error path."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any

import hikari
import lightbulb
import yuyo

from bot.discord.errors import describe_error
from bot.i18n import use_language

_log = logging.getLogger(__name__)

# A callback takes the context, then whatever services it names with `= lightbulb.di.INJECTED`.
ComponentCallback = Callable[..., Coroutine[Any, Any, None]]
ModalCallback = Callable[..., Coroutine[Any, Any, None]]


async def _tell(ctx: yuyo.ComponentContext | yuyo.ModalContext, exc: BaseException, where: str) -> None:
    message = describe_error(exc, where)
    try:
        if ctx.has_responded or ctx.has_been_deferred:
            await ctx.create_followup(message, ephemeral=True)
        else:
            await ctx.create_initial_response(message, ephemeral=True)
    except hikari.HTTPError as send_error:
        _log.warning("could not show an error to the user: %s", send_error)


async def _run(client: lightbulb.Client, callback: Callable[..., Awaitable[None]], ctx: Any, where: str) -> None:
    use_language(ctx.interaction.locale)  # the button's or form's replies and errors, in the member's language
    try:
        async with client.di.enter_context(lightbulb.di.Contexts.DEFAULT):
            await callback(ctx)
    except Exception as exc:  # one error path: the user sees a short message or an error id
        await _tell(ctx, exc, where)


class ButtonHandler(yuyo.components.AbstractComponentExecutor):
    """Every button whose custom id starts with `prefix:`; the rest of the id is in `ctx.id_metadata`."""

    def __init__(self, prefix: str, callback: ComponentCallback, client: lightbulb.Client) -> None:
        self._prefix = prefix
        self._callback = callback
        self._client = client

    @property
    def custom_ids(self) -> Collection[str]:
        return [self._prefix]

    async def execute(self, ctx: yuyo.ComponentContext, /) -> None:
        await _run(self._client, self._callback, ctx, f"button {self._prefix}")


class ModalHandler(yuyo.modals.AbstractModal):
    """Every modal whose custom id starts with `prefix:`."""

    def __init__(self, prefix: str, callback: ModalCallback, client: lightbulb.Client) -> None:
        self._prefix = prefix
        self._callback = callback
        self._client = client

    async def execute(self, ctx: yuyo.ModalContext, /) -> None:
        await _run(self._client, self._callback, ctx, f"modal {self._prefix}")


class Handlers(lightbulb.Loadable):
    """Add to an extension's loader: its buttons and modals are registered when the extension loads.

    Callbacks receive the context, and the services they ask for by type (`answers: AnswerStore =
    lightbulb.di.INJECTED`), like commands do; the custom id's metadata is in `ctx.id_metadata`.
    """

    def __init__(self) -> None:
        self._buttons: dict[str, ComponentCallback] = {}
        self._modals: dict[str, ModalCallback] = {}
        self._registered: dict[int, tuple[yuyo.ComponentClient, yuyo.ModalClient, list[ButtonHandler]]] = {}

    def button(self, prefix: str) -> Callable[[ComponentCallback], ComponentCallback]:
        def register(callback: ComponentCallback) -> ComponentCallback:
            self._buttons[prefix] = lightbulb.di.with_di(callback)
            return callback

        return register

    def modal(self, prefix: str) -> Callable[[ModalCallback], ModalCallback]:
        def register(callback: ModalCallback) -> ModalCallback:
            self._modals[prefix] = lightbulb.di.with_di(callback)
            return callback

        return register

    async def load(self, client: lightbulb.Client) -> None:
        # One loader may serve several clients in one process (tests, restarts): register once per client.
        if id(client) in self._registered:
            return
        async with client.di.enter_context(lightbulb.di.Contexts.DEFAULT) as container:
            components = await container.get(yuyo.ComponentClient)
            modals = await container.get(yuyo.ModalClient)
        buttons = [ButtonHandler(prefix, callback, client) for prefix, callback in self._buttons.items()]
        for handler in buttons:
            components.register_executor(handler, timeout=None)
        for prefix, modal_callback in self._modals.items():
            modals.register_modal(prefix, ModalHandler(prefix, modal_callback, client), timeout=None)
        self._registered[id(client)] = (components, modals, buttons)

    async def unload(self, client: lightbulb.Client) -> None:
        registered = self._registered.pop(id(client), None)
        if registered is None:
            return
        components, modals, buttons = registered
        # Not there any more once the bot has stopped: yuyo's clients let go of everything when they close.
        for handler in buttons:
            with contextlib.suppress(KeyError):
                components.deregister_executor(handler)
        for prefix in self._modals:
            with contextlib.suppress(KeyError):
                modals.deregister_modal(prefix)
