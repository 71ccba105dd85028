"""The one place that wires things: build(config) makes the GatewayBot, the lightbulb client and every service."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any, cast

import alluka
import attrs
import hikari
import lightbulb
import openai
import yuyo

import extensions
from bot.config import Config, Settings
from bot.conversation.settings import ConversationSettings
from bot.discord.health import Readiness, count_interactions, shard_latencies
from bot.discord.knowledge import CachedChannelAccess, KnowledgeReader
from bot.discord.language import command_localizations, speak_member_language
from bot.discord.model_notices import ModelNotices
from bot.discord.replies import Asker
from bot.discord.settings import DiscordSettings
from bot.discord.threads import ConversationThreads
from bot.discord.training import JobAnnouncer
from bot.discord.usage import BudgetNotices
from bot.discord.voice_rooms import TranscriptPoster, VoiceRooms
from bot.evaluation.eval_sets import EvalSets
from bot.evaluation.job_tests import JobTests
from bot.evaluation.model_test import ModelTester
from bot.evaluation.settings import EvaluationSettings
from bot.finetuning.awaiting_confirm import PreparedDatasets
from bot.finetuning.backends import Trainers, configured_backends
from bot.finetuning.cutoff import TrainingCutoff
from bot.finetuning.kept import KeptDatasets
from bot.finetuning.openai_trainer import OpenAITrainer
from bot.finetuning.preparing import DatasetPreparer
from bot.finetuning.settings import TrainingSettings
from bot.finetuning.tokens import TokenCounter
from bot.finetuning.trainer import Trainer
from bot.finetuning.watcher import JobWatcher
from bot.health import HealthServer
from bot.limits import Limiter, for_database
from bot.llm.answering import Answerer
from bot.llm.chat import ChatModel
from bot.llm.embeddings import Embedder, TextEmbedder
from bot.llm.endpoint import load_client_parts, warn_if_endpoint_unusable
from bot.llm.knowledge import Knowledge
from bot.llm.local_embeddings import LocalEmbedder
from bot.llm.outages import ModelOutages
from bot.llm.references import References
from bot.llm.retirements import Clock, utc_now
from bot.llm.settings import LLMSettings
from bot.llm.usage import UsageLedger, UsageSettings
from bot.metrics import Metrics
from bot.speech.settings import SpeechSettings
from bot.speech.transcribe import Transcriber
from bot.speech.tts import SpeechEngine, make_engine
from bot.store.answers import AnswerStore
from bot.store.correction_embeddings import EmbeddingStore
from bot.store.correction_search import CorrectionSearch
from bot.store.corrections import CorrectionStore
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.identify_turns import IDENTIFY_WINDOW_S, IdentifyTurns
from bot.store.jobs import JobStore
from bot.store.knowledge import KnowledgeStore
from bot.store.model_notices import ModelNoticeStore
from bot.store.model_tests import ModelTestStore
from bot.store.passage_embeddings import PassageEmbeddingStore
from bot.store.passage_search import PassageSearch
from bot.store.personas import PersonaStore
from bot.store.requests import JobRequestStore
from bot.store.threads import ThreadStore
from bot.store.usage import UsageStore
from bot.store.votes import VoteStore
from bot.voice.settings import VoiceSettings

_log = logging.getLogger(__name__)


def _no_clients() -> list[openai.AsyncOpenAI]:
    return []


@attrs.define
class Services:
    """What the composition root built, kept for shutdown (in order) and for tests. Extensions never see this record:
    each command and handler asks lightbulb's DI for the services it uses, by type (see `register`)."""

    config: Config
    database: Database
    answers: AnswerStore
    corrections: CorrectionStore
    votes: VoteStore
    guilds: GuildSettingsStore
    openai: openai.AsyncOpenAI
    chat: ChatModel
    limiter: Limiter
    answerer: Answerer
    components: yuyo.ComponentClient
    modals: yuyo.ModalClient
    jobs: JobStore
    requests: JobRequestStore
    trainer: Trainer
    trainers: Trainers
    watcher: JobWatcher
    prepared: PreparedDatasets
    token_counter: TokenCounter
    transcriber: Transcriber
    speech: SpeechEngine
    rooms: VoiceRooms
    asker: Asker
    preparer: DatasetPreparer
    references: References
    model_tests: ModelTestStore
    tester: ModelTester
    job_tests: JobTests
    test_sets: EvalSets
    personas: PersonaStore
    threads: ConversationThreads
    metrics: Metrics
    health: HealthServer
    identify_turns: IdentifyTurns
    cutoff: TrainingCutoff
    model_notices: ModelNotices
    outages: ModelOutages
    kept: KeptDatasets
    ledger: UsageLedger
    knowledge: Knowledge
    knowledge_store: KnowledgeStore
    knowledge_reader: KnowledgeReader
    # The fine-tuning clients of backends with an address of their own (closed with the rest).
    training_clients: list[openai.AsyncOpenAI] = attrs.field(factory=_no_clients)

    async def open(self) -> None:
        await self.database.open()
        await asyncio.to_thread(self.prepared.sweep_leftovers)
        await asyncio.to_thread(self.kept.sweep)

    async def close(self) -> None:
        await self.rooms.close()
        await self.model_notices.stop()
        await self.knowledge_reader.stop()
        await self.watcher.stop()
        await self.job_tests.close()
        self.prepared.close()
        self.token_counter.close()
        self.transcriber.close()
        await self.openai.close()
        for client in self.training_clients:
            await client.close()
        await self.identify_turns.close()
        await self.ledger.close()
        await self.database.close()
        await self.health.stop()


@attrs.frozen
class BuiltBot:
    bot: hikari.GatewayBot
    client: lightbulb.GatewayEnabledClient
    services: Services
    # Set once commands are synced and extensions loaded: the bot is answering.
    ready: asyncio.Event = attrs.field(factory=asyncio.Event)


def register(client: lightbulb.Client, services: Services, settings: Settings) -> None:
    """Each service under its own type in lightbulb's DI (interfaces under the interface), settings per section."""
    values: list[tuple[type[Any], object]] = [
        (Settings, settings),
        (DiscordSettings, settings.discord),
        (LLMSettings, settings.llm),
        (TrainingSettings, settings.training),
        (EvaluationSettings, settings.testing),
        (SpeechSettings, settings.speech),
        (ConversationSettings, settings.conversation),
        (VoiceSettings, settings.voice),
        (UsageSettings, settings.usage),
        (AnswerStore, services.answers),
        (CorrectionStore, services.corrections),
        (VoteStore, services.votes),
        (GuildSettingsStore, services.guilds),
        (JobStore, services.jobs),
        (JobRequestStore, services.requests),
        (ChatModel, services.chat),
        (cast(type[Any], Limiter), services.limiter),
        (Answerer, services.answerer),
        (yuyo.ComponentClient, services.components),
        (yuyo.ModalClient, services.modals),
        (cast(type[Any], Trainer), services.trainer),
        (Trainers, services.trainers),
        (JobWatcher, services.watcher),
        (PreparedDatasets, services.prepared),
        (TokenCounter, services.token_counter),
        (Transcriber, services.transcriber),
        (cast(type[Any], SpeechEngine), services.speech),
        (VoiceRooms, services.rooms),
        (Asker, services.asker),
        (DatasetPreparer, services.preparer),
        (References, services.references),
        (ModelTestStore, services.model_tests),
        (ModelTester, services.tester),
        (EvalSets, services.test_sets),
        (PersonaStore, services.personas),
        (ConversationThreads, services.threads),
        (Metrics, services.metrics),
        (TrainingCutoff, services.cutoff),
        (ModelOutages, services.outages),
        (KeptDatasets, services.kept),
        (UsageLedger, services.ledger),
        (Knowledge, services.knowledge),
        (KnowledgeStore, services.knowledge_store),
        (KnowledgeReader, services.knowledge_reader),
    ]
    registry = client.di.registry_for(lightbulb.di.Contexts.DEFAULT)
    for kind, value in values:
        registry.register_value(kind, value)


def training_clients(config: Config, chat_client: openai.AsyncOpenAI) -> dict[str, openai.AsyncOpenAI]:
    """A fine-tuning client per configured backend: the chat endpoint's where a backend names no address of its own;
    else one for its base_url (Azure's v1 API and the training service speak the same API), with the key from the
    environment variable it names (TRAINING_API_KEY for the single-backend [training] base_url)."""
    clients: dict[str, openai.AsyncOpenAI] = {}
    secrets, llm = config.secrets, config.settings.llm
    for name, backend in configured_backends(config.settings.training).items():
        if backend.base_url is None:
            clients[name] = chat_client
            continue
        key = secrets.training_keys.get(name)
        if key is None and name not in config.settings.training.backends:
            key = secrets.training_api_key
        clients[name] = openai.AsyncOpenAI(
            api_key=key or "not-needed",  # a service on loopback needs no key
            base_url=backend.base_url,
            timeout=llm.request_timeout_s,
            max_retries=llm.max_retries,
        )
    return clients


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
    settings = config.settings
    bot = hikari.GatewayBot(
        config.secrets.discord_token,
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
    database = Database(config.database_url, pool_size=settings.storage.pool_size)
    answers = AnswerStore(database)
    guilds = GuildSettingsStore(database)
    openai_client = openai.AsyncOpenAI(
        api_key=config.secrets.openai_api_key,
        base_url=config.secrets.openai_base_url,
        timeout=settings.llm.request_timeout_s,
        max_retries=settings.llm.max_retries,
    )
    metrics = Metrics()
    # Every model call's tokens, counted in one place (ChatModel, Embedder), and the budgets checked against them.
    ledger = UsageLedger(UsageStore(database), settings.usage, metrics=metrics)
    ledger.on_notice(BudgetNotices(bot).send)
    chat = ChatModel(
        openai_client,
        max_tokens=settings.llm.max_answer_tokens,
        temperature=settings.llm.temperature,
        metrics=metrics,
        tokens_field=settings.llm.tokens_field,
        reasoning_effort=settings.llm.reasoning_effort,
        ledger=ledger,
    )
    # Shared through the database by every process on PostgreSQL; in memory for one process on SQLite.
    limiter = for_database(database, settings.limits.model_calls, settings.limits.window_s)
    jobs = JobStore(database)
    corrections = CorrectionStore(database)
    embedder: TextEmbedder | None = None
    match settings.llm.embeddings_source:
        case "local":
            embedder = LocalEmbedder(settings.llm.local_embeddings_model)
        case "endpoint" if settings.llm.embeddings_model:
            embedder = Embedder(openai_client, settings.llm.embeddings_model, ledger=ledger)
        case _:
            pass
    references = References(
        CorrectionSearch(database),
        guilds,
        settings.llm,
        embedder=embedder,
        embeddings=EmbeddingStore(database) if embedder is not None else None,
    )
    personas = PersonaStore(database)
    threads = ConversationThreads(bot, ThreadStore(database))
    knowledge_store = KnowledgeStore(database)
    knowledge = Knowledge(
        knowledge_store,
        PassageSearch(database),
        settings.llm,
        CachedChannelAccess(bot),
        embedder=embedder,
        embeddings=PassageEmbeddingStore(database) if embedder is not None else None,
    )
    knowledge_reader = KnowledgeReader(bot, knowledge_store, settings.llm)
    model_notices = ModelNotices(
        bot.rest,
        ModelNoticeStore(database),
        jobs,
        guilds,
        discord=settings.discord,
        llm=settings.llm,
        guild_ids=lambda: bot.cache.get_guilds_view().keys(),
        clock=clock,
    )
    outages = ModelOutages(settings.llm.model_retry_s, clock)
    answerer = Answerer(
        chat,
        answers,
        guilds,
        limiter,
        settings.llm,
        references=references,
        personas=personas,
        outages=outages,
        notices=model_notices,
        ledger=ledger,
        knowledge=knowledge,
    )
    model_tests = ModelTestStore(database)
    tester = ModelTester(
        chat,
        model_tests,
        corrections,
        references,
        llm=settings.llm,
        training=settings.training,
        settings=settings.testing,
        ledger=ledger,
    )
    # The watcher is made below and needs job_tests first: the lambda looks it up when a test ends.
    job_tests = JobTests(
        tester,
        model_tests,
        guilds,
        settings.llm.default_model,
        when_done=lambda: services.watcher.poke(),  # noqa: PLW0108
    )
    transcriber = Transcriber(settings.speech)
    speech = make_engine(settings.speech, openai_client)

    announcer = JobAnnouncer(bot.rest, model_tests)
    clients = training_clients(config, openai_client)
    trainers = Trainers(
        {name: OpenAITrainer(client, name=name) for name, client in clients.items()}, settings.training.backend
    )
    trainer = trainers.default
    training = settings.training
    requests = JobRequestStore(database, jobs)
    watcher = JobWatcher(
        trainers,
        jobs,
        announcer.job_ended,
        interval_s=training.watch_interval_s,
        max_backoff_s=training.watch_max_backoff_s,
        requests=requests,
        notify_request=announcer.request_settled,
        notice_attempts=training.notice_attempts,
        start_grace_s=training.start_grace_s,
        notice_ready=job_tests.ready,
        lease_s=training.watch_lease_s,
    )
    prepared = PreparedDatasets(Path(training.work_dir), training.confirm_timeout_s)
    ready = asyncio.Event()  # BuiltBot.ready: /readyz also waits for it
    token_counter = TokenCounter(training.encoding)
    # yuyo's clients take an explicit alluka client: letting them make their own is deprecated (PLATFORM.md §1).
    injector = alluka.Client()
    services = Services(
        config=config,
        database=database,
        answers=answers,
        corrections=corrections,
        votes=VoteStore(database),
        guilds=guilds,
        openai=openai_client,
        chat=chat,
        limiter=limiter,
        answerer=answerer,
        components=yuyo.ComponentClient.from_gateway_bot(bot, alluka=injector),
        modals=yuyo.ModalClient.from_gateway_bot(bot, alluka=injector),
        jobs=jobs,
        requests=requests,
        trainer=trainer,
        trainers=trainers,
        watcher=watcher,
        prepared=prepared,
        token_counter=token_counter,
        transcriber=transcriber,
        speech=speech,
        rooms=VoiceRooms(
            bot,
            voice=settings.voice,
            conversation=settings.conversation,
            transcriber=transcriber,
            answerer=answerer,
            speech=speech,
            on_turn=TranscriptPoster(bot.rest, answers, settings.conversation.transcript_channel_id),
            metrics=metrics,
        ),
        asker=Asker(
            answerer,
            answers,
            transcriber,
            settings.speech,
            llm=settings.llm,
            threads=threads,
            edit_interval_s=settings.llm.edit_interval_s,
            metrics=metrics,
        ),
        preparer=DatasetPreparer(prepared, token_counter, training),
        references=references,
        model_tests=model_tests,
        tester=tester,
        job_tests=job_tests,
        test_sets=EvalSets(model_tests, prepared, token_counter, training, settings.testing),
        personas=personas,
        threads=threads,
        metrics=metrics,
        health=HealthServer(
            settings.health, metrics, Readiness(bot, ready, database, settings.health.database_timeout_s).problem
        ),
        identify_turns=IdentifyTurns(database, window_s=identify_window_s),
        cutoff=TrainingCutoff(training, clock=clock),
        model_notices=model_notices,
        outages=outages,
        kept=KeptDatasets(Path(training.work_dir) / "kept", training.keep_datasets_days),
        training_clients=list({id(c): c for c in clients.values() if c is not openai_client}.values()),
        ledger=ledger,
        knowledge=knowledge,
        knowledge_store=knowledge_store,
        knowledge_reader=knowledge_reader,
    )
    knowledge_reader.subscribe(bot)
    register(client, services, settings)
    count_interactions(bot, metrics)
    metrics.read_gateway_latency(lambda: shard_latencies(bot.shards))
    metrics.read_transcription_queue(lambda: transcriber.queued)
    metrics.read_voice_sessions(lambda: services.rooms.count)
    metrics.read_jobs_watched(lambda: watcher.watching)

    async def on_starting(_: hikari.StartingEvent) -> None:
        await services.health.start()  # first: alive (/healthz) while the database migrates and shards connect
        # The model client's lazy imports load in a worker thread while the database opens, not on the first answer.
        loading = asyncio.get_running_loop().run_in_executor(None, load_client_parts, openai_client)
        await services.open()
        await client.load_extensions_from_package(extensions)
        turns = services.identify_turns
        if turns.needed:  # other shard processes may be starting too: take turns to IDENTIFY (hikari starts next)
            limit = (await bot.rest.fetch_gateway_bot_info()).session_start_limit
            await turns.take(settings.discord.shard_ids, limit.max_concurrency)
        try:
            await loading
        except Exception:
            _log.warning("could not load the model client's parts ahead of the first question", exc_info=True)

    checks: set[asyncio.Task[None]] = set()  # start-up checks that only warn: they never hold up the start

    async def on_started(_: hikari.StartedEvent) -> None:
        services.identify_turns.release_after_window()  # every shard of this process has identified
        await client.start()
        services.watcher.start()  # resumes following jobs (and owed notices) from the database
        services.model_notices.start()  # servers whose model shuts down soon are told (once)
        knowledge_reader.start()  # catches up with what changed in source channels while the bot was away
        ready.set()
        _log.info("bot ready")
        checks.add(asyncio.create_task(warn_if_endpoint_unusable(openai_client)))

    async def on_stopping(_: hikari.StoppingEvent) -> None:
        ready.clear()  # /readyz: 503 from here on, so an orchestrator sends nothing more
        for check in checks:
            check.cancel()
        await asyncio.gather(*checks, return_exceptions=True)
        await client.stop()
        await knowledge_reader.stop()

    async def on_stopped(_: hikari.StoppedEvent) -> None:
        await services.close()

    bot.subscribe(hikari.StartingEvent, on_starting)
    bot.subscribe(hikari.StartedEvent, on_started)
    bot.subscribe(hikari.StoppingEvent, on_stopping)
    bot.subscribe(hikari.StoppedEvent, on_stopped)
    built = BuiltBot(bot=bot, client=client, services=services, ready=ready)
    return built
