"""Persistent buttons and modals (yuyo), registered per extension and routed through the one error path."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING

import hikari
import lightbulb
import yuyo

from bot.discord.errors import describe_error

if TYPE_CHECKING:
    from bot.app import Services

_log = logging.getLogger(__name__)

ComponentCallback = Callable[[yuyo.ComponentContext, "Services"], Awaitable[None]]
ModalCallback = Callable[[yuyo.ModalContext, "Services"], Awaitable[None]]


async def _tell(ctx: yuyo.ComponentContext | yuyo.ModalContext, exc: BaseException, where: str) -> None:
    message = describe_error(exc, where)
    try:
        if ctx.has_responded or ctx.has_been_deferred:
            await ctx.create_followup(message, ephemeral=True)
        else:
            await ctx.create_initial_response(message, ephemeral=True)
    except hikari.HTTPError as send_error:
        _log.warning("could not show an error to the user: %s", send_error)


class ButtonHandler(yuyo.components.AbstractComponentExecutor):
    """Every button whose custom id starts with `prefix:`; the rest of the id is in `ctx.id_metadata`."""

    def __init__(self, prefix: str, callback: ComponentCallback, services: Services) -> None:
        self._prefix = prefix
        self._callback = callback
        self._services = services

    @property
    def custom_ids(self) -> Collection[str]:
        return [self._prefix]

    async def execute(self, ctx: yuyo.ComponentContext, /) -> None:
        try:
            await self._callback(ctx, self._services)
        except Exception as exc:  # one error path: the user sees a short message or an error id
            await _tell(ctx, exc, f"button {self._prefix}")


class ModalHandler(yuyo.modals.AbstractModal):
    """Every modal whose custom id starts with `prefix:`."""

    def __init__(self, prefix: str, callback: ModalCallback, services: Services) -> None:
        self._prefix = prefix
        self._callback = callback
        self._services = services

    async def execute(self, ctx: yuyo.ModalContext, /) -> None:
        try:
            await self._callback(ctx, self._services)
        except Exception as exc:
            await _tell(ctx, exc, f"modal {self._prefix}")


class Handlers(lightbulb.Loadable):
    """Add to an extension's loader: its buttons and modals are registered when the extension loads.

    Callbacks receive the context and the bot's `Services`; the custom id's metadata is in `ctx.id_metadata`.
    """

    def __init__(self) -> None:
        self._buttons: dict[str, ComponentCallback] = {}
        self._modals: dict[str, ModalCallback] = {}
        self._registered: dict[int, tuple[Services, list[ButtonHandler]]] = {}

    def button(self, prefix: str) -> Callable[[ComponentCallback], ComponentCallback]:
        def register(callback: ComponentCallback) -> ComponentCallback:
            self._buttons[prefix] = callback
            return callback

        return register

    def modal(self, prefix: str) -> Callable[[ModalCallback], ModalCallback]:
        def register(callback: ModalCallback) -> ModalCallback:
            self._modals[prefix] = callback
            return callback

        return register

    async def load(self, client: lightbulb.Client) -> None:
        # One loader may serve several clients in one process (tests, restarts): register once per client.
        if id(client) in self._registered:
            return
        from bot.app import Services

        async with client.di.enter_context(lightbulb.di.Contexts.DEFAULT) as container:
            services = await container.get(Services)
        buttons = [ButtonHandler(prefix, callback, services) for prefix, callback in self._buttons.items()]
        for handler in buttons:
            services.components.register_executor(handler, timeout=None)
        for prefix, modal_callback in self._modals.items():
            services.modals.register_modal(prefix, ModalHandler(prefix, modal_callback, services), timeout=None)
        self._registered[id(client)] = (services, buttons)

    async def unload(self, client: lightbulb.Client) -> None:
        registered = self._registered.pop(id(client), None)
        if registered is None:
            return
        services, buttons = registered
        for handler in buttons:
            services.components.deregister_executor(handler)
        for prefix in self._modals:
            services.modals.deregister_modal(prefix)
