"""The composition root: build(config) makes the GatewayBot and the lightbulb client, and has each package wire its
services into lightbulb's DI (its `wiring.install`), below before above; bot/wiring.py runs their start and stop."""

from __future__ import annotations

import asyncio
import logging
import pkgutil
import sys
from typing import TypeVar

import alluka
import attrs
import hikari
import lightbulb
import yuyo

import extensions
from bot import health
from bot.config import Config, Settings
from bot.conversation.settings import ConversationSettings
from bot.discord import wiring as discord
from bot.discord.health import Readiness
from bot.discord.injection import resolve_once
from bot.discord.language import command_localizations, speak_member_language
from bot.discord.settings import DiscordSettings
from bot.evaluation import wiring as evaluation
from bot.evaluation.settings import EvaluationSettings
from bot.finetuning import wiring as finetuning
from bot.finetuning.settings import TrainingSettings
from bot.llm import wiring as llm
from bot.llm.retirements import Clock, utc_now
from bot.llm.settings import LLMSettings
from bot.llm.usage import UsageSettings
from bot.metrics import Metrics
from bot.speech import wiring as speech
from bot.speech.settings import SpeechSettings
from bot.store import wiring as store
from bot.store.database import Database
from bot.store.identify_turns import IDENTIFY_WINDOW_S, IdentifyTurns
from bot.voice.settings import VoiceSettings
from bot.wiring import Wiring

_log = logging.getLogger(__name__)

T = TypeVar("T")


@attrs.frozen
class BuiltBot:
    bot: hikari.GatewayBot
    client: lightbulb.GatewayEnabledClient
    wiring: Wiring
    # Set once commands are synced and extensions loaded: the bot is answering (/readyz waits for it too).
    ready: asyncio.Event

    def get(self, kind: type[T]) -> T:
        """The service wired under `kind`, as lightbulb's DI hands it to commands (for tests and tools)."""
        return self.wiring.get(kind)


def build(
    config: Config,
    *,
    rest_url: str | None = None,
    http_settings: hikari.impl.HTTPSettings | None = None,
    rest_max_retries: int = 3,
    identify_window_s: float = IDENTIFY_WINDOW_S,
    clock: Clock = utc_now,
) -> BuiltBot:
    """Make the bot and its services; nothing connects until `bot.start()` (tests pass a loopback `rest_url`, and
    shorten Discord's identify window, which processes sharing a PostgreSQL wait out in turn, and set the day that
    shutdowns and the fine-tuning cut-off are measured against)."""
    settings, secrets = config.settings, config.secrets
    bot = hikari.GatewayBot(
        secrets.discord_token,
        intents=intents_for(settings),
        rest_url=rest_url or settings.discord.rest_url,
        http_settings=http_settings or keep_alive(),
        max_retries=rest_max_retries,
        logs=None,
        banner=None,
    )
    # Commands keep English names; their descriptions come in every catalog language, and each command answers in the
    # member's language (bot/i18n.py).
    client = lightbulb.client_from_app(
        bot,
        default_enabled_guilds=settings.discord.command_guilds,
        localization_provider=command_localizations,
        hooks=[speak_member_language],
    )
    wiring = Wiring(client.di.registry_for(lightbulb.di.Contexts.DEFAULT))
    # yuyo's clients take an explicit alluka client: letting them make their own is deprecated (alluka 0.4 warns).
    injector = alluka.Client()
    wiring.add(yuyo.ComponentClient, yuyo.ComponentClient.from_gateway_bot(bot, alluka=injector))
    wiring.add(yuyo.ModalClient, yuyo.ModalClient.from_gateway_bot(bot, alluka=injector))
    add_settings(wiring, settings)
    wiring.add(Metrics, Metrics())
    ready = asyncio.Event()
    storage = settings.storage
    store.install(wiring, config.database_url, pool_size=storage.pool_size, identify_window_s=identify_window_s)
    readiness = Readiness(bot, ready, wiring.get(Database), settings.health.database_timeout_s)
    health.install(wiring, settings.health, readiness.problem)
    discord.install_outlets(wiring, bot, clock=clock)
    limits = settings.limits
    llm.install(
        wiring,
        api_key=secrets.openai_api_key,
        base_url=secrets.openai_base_url,
        model_calls=limits.model_calls,
        window_s=limits.window_s,
        clock=clock,
    )
    speech.install(wiring)
    finetuning.install(wiring, keys=secrets.training_keys, default_key=secrets.training_api_key, clock=clock)
    evaluation.install(wiring)
    discord.install(wiring, bot)
    follow_lifecycle(bot, client, wiring, ready, settings.discord.shard_ids)
    return BuiltBot(bot=bot, client=client, wiring=wiring, ready=ready)


def add_settings(wiring: Wiring, settings: Settings) -> None:
    """The settings, whole and by section, for whoever asks by type."""
    wiring.add(Settings, settings)
    wiring.add(DiscordSettings, settings.discord)
    wiring.add(LLMSettings, settings.llm)
    wiring.add(TrainingSettings, settings.training)
    wiring.add(EvaluationSettings, settings.testing)
    wiring.add(SpeechSettings, settings.speech)
    wiring.add(ConversationSettings, settings.conversation)
    wiring.add(VoiceSettings, settings.voice)
    wiring.add(UsageSettings, settings.usage)


def follow_lifecycle(
    bot: hikari.GatewayBot,
    client: lightbulb.GatewayEnabledClient,
    wiring: Wiring,
    ready: asyncio.Event,
    shard_ids: list[int] | None,
) -> None:
    """Open, start, stop and close the services with hikari's lifecycle events, lightbulb's client in between."""
    turns = wiring.get(IdentifyTurns)

    async def on_starting(_: hikari.StartingEvent) -> None:
        await wiring.open()  # the health endpoint first (alive while the database migrates), then the database
        await client.load_extensions_from_package(extensions)
        resolve_once(client.registered_commands)  # not again on every invocation (bot/discord/injection.py)
        if turns.needed:  # other shard processes may be starting too: take turns to IDENTIFY (hikari starts next)
            limit = (await bot.rest.fetch_gateway_bot_info()).session_start_limit
            await turns.take(shard_ids, limit.max_concurrency)

    async def on_started(_: hikari.StartedEvent) -> None:
        turns.release_after_window()  # every shard of this process has identified
        await client.start()
        await wiring.start()  # the job watcher and notices resume from the database
        ready.set()
        _log.info("bot ready")

    async def on_stopping(_: hikari.StoppingEvent) -> None:
        ready.clear()  # /readyz: 503 from here on, so an orchestrator sends nothing more
        await client.stop()
        await wiring.stop()

    async def on_stopped(_: hikari.StoppedEvent) -> None:
        await wiring.close()
        await let_go_of_extensions(client)

    bot.subscribe(hikari.StartingEvent, on_starting)
    bot.subscribe(hikari.StartedEvent, on_started)
    bot.subscribe(hikari.StoppingEvent, on_stopping)
    bot.subscribe(hikari.StoppedEvent, on_stopped)


async def let_go_of_extensions(client: lightbulb.Client) -> None:
    """The extensions' loaders forget a stopped client (its commands, listeners, buttons and forms): they are module
    objects, and a process that runs bots one after another (the tests, the benchmarks) kept every stopped bot alive
    through them."""
    for name in extension_modules():
        module = sys.modules.get(name)
        loaders = [v for v in vars(module).values() if isinstance(v, lightbulb.Loader)] if module is not None else []
        for loader in loaders:
            await loader.remove_from_client(client)


def extension_modules() -> list[str]:
    """The modules `load_extensions_from_package(extensions)` loads."""
    return [
        f"{extensions.__name__}.{m.name}"
        for m in pkgutil.iter_modules(extensions.__path__)
        if not m.name.startswith("_") and not m.ispkg  # its files, not its folders
    ]


def intents_for(settings: Settings) -> hikari.Intents:
    intents = (
        hikari.Intents.GUILDS
        | hikari.Intents.GUILD_MESSAGES
        | hikari.Intents.DM_MESSAGES
        | hikari.Intents.GUILD_VOICE_STATES
    )
    if settings.discord.chat_channels or settings.discord.answer_in_threads or settings.llm.knowledge_sources:
        # Privileged: only needed to read messages in chat channels and the bot's threads that neither mention the
        # bot nor are DMs.
        intents |= hikari.Intents.MESSAGE_CONTENT
    return intents


def keep_alive() -> hikari.impl.HTTPSettings:
    """REST calls reuse their connections to Discord. hikari closes each one after its request by default (for
    Windows' sake), which costs every REST call a new TCP and TLS handshake: most of a busy bot's CPU and a round
    trip more of latency for every reply and edit."""
    return hikari.impl.HTTPSettings(force_close_transports=sys.platform == "win32")
