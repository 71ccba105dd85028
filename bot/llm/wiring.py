"""The model side's services in lightbulb's DI: the endpoint's client, usage budgets, the chat model, what answers
draw on (corrections, knowledge) and the answerer. Discord's side of it (channel access, missing-model notices) is
wired before, by bot/discord/wiring.py's `install_outlets`."""

from __future__ import annotations

import openai

from bot.limits import Limiter, for_database
from bot.llm.answering import Answerer, MissingModelNotices
from bot.llm.chat import ChatModel
from bot.llm.embeddings import Embedder, TextEmbedder
from bot.llm.endpoint import load_client_parts, warn_if_endpoint_unusable
from bot.llm.knowledge import ChannelAccess, Knowledge
from bot.llm.local_embeddings import LocalEmbedder
from bot.llm.outages import ModelOutages
from bot.llm.references import References
from bot.llm.retirements import Clock, utc_now
from bot.llm.settings import LLMSettings
from bot.llm.usage import UsageLedger, UsageSettings
from bot.metrics import Metrics
from bot.store.answers import AnswerStore
from bot.store.correction_embeddings import EmbeddingStore
from bot.store.correction_search import CorrectionSearch
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.knowledge import KnowledgeStore
from bot.store.passage_embeddings import PassageEmbeddingStore
from bot.store.passage_search import PassageSearch
from bot.store.usage import UsageStore
from bot.wiring import Stage, Wiring


def model_client(api_key: str, base_url: str | None, *, timeout_s: float, max_retries: int) -> openai.AsyncOpenAI:
    """The model endpoint's client, over aiohttp (the client's own `aiohttp` transport; hikari's HTTP library
    already) rather than httpx's pure-Python HTTP/1.1, which cost a third of the CPU of each streamed answer's chunks
    (bench/answer_cpu.py)."""
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout_s,
        max_retries=max_retries,
        http_client=openai.DefaultAioHttpClient(),
    )


def install(
    wiring: Wiring,
    *,
    api_key: str,
    base_url: str | None,
    model_calls: int,
    window_s: float,
    clock: Clock = utc_now,
) -> None:
    """`model_calls` per `window_s`: how often one member may ask the model (bot.limits)."""
    settings = wiring.get(LLMSettings)
    client = wiring.add(
        openai.AsyncOpenAI,
        model_client(api_key, base_url, timeout_s=settings.request_timeout_s, max_retries=settings.max_retries),
    )
    # The client's lazy imports load in a worker thread while the database opens, not on the first answer.
    wiring.warm_up(
        lambda: load_client_parts(client), "could not load the model client's parts ahead of the first question"
    )
    wiring.check(lambda: warn_if_endpoint_unusable(client))
    wiring.on_close(Stage.WORKERS, client.close)
    metrics = wiring.get(Metrics)
    # Every model call's tokens, counted in one place (ChatModel, Embedder), and the budgets checked against them.
    ledger = wiring.add(UsageLedger, UsageLedger(wiring.get(UsageStore), wiring.get(UsageSettings), metrics=metrics))
    wiring.on_close(Stage.STORAGE, ledger.close)
    chat = wiring.add(
        ChatModel,
        ChatModel(
            client,
            max_tokens=settings.max_answer_tokens,
            temperature=settings.temperature,
            metrics=metrics,
            tokens_field=settings.tokens_field,
            reasoning_effort=settings.reasoning_effort,
            ledger=ledger,
        ),
    )
    # Shared through the database by every process on PostgreSQL; in memory for one process on SQLite.
    limiter = wiring.add(Limiter, for_database(wiring.get(Database), model_calls, window_s))
    embedder = _embedder(settings, client, ledger)
    guilds = wiring.get(GuildSettingsStore)
    references = wiring.add(
        References,
        References(
            wiring.get(CorrectionSearch),
            guilds,
            settings,
            embedder=embedder,
            embeddings=wiring.get(EmbeddingStore) if embedder is not None else None,
        ),
    )
    passage_embedder = embedder if settings.passage_embeddings else None
    knowledge = wiring.add(
        Knowledge,
        Knowledge(
            wiring.get(KnowledgeStore),
            wiring.get(PassageSearch),
            settings,
            wiring.get(ChannelAccess),
            embedder=passage_embedder,
            embeddings=wiring.get(PassageEmbeddingStore) if passage_embedder is not None else None,
        ),
    )
    wiring.add(
        Answerer,
        Answerer(
            chat,
            wiring.get(AnswerStore),
            guilds,
            limiter,
            settings,
            references=references,
            outages=wiring.add(ModelOutages, ModelOutages(settings.model_retry_s, clock)),
            notices=wiring.get(MissingModelNotices),
            ledger=ledger,
            knowledge=knowledge,
        ),
    )


def _embedder(settings: LLMSettings, client: openai.AsyncOpenAI, ledger: UsageLedger) -> TextEmbedder | None:
    """What finds corrections and passages by meaning, where the settings name one."""
    match settings.embeddings_source:
        case "local":
            return LocalEmbedder(settings.local_embeddings_model)
        case "endpoint" if settings.embeddings_model:
            return Embedder(client, settings.embeddings_model, ledger=ledger)
        case _:
            return None
