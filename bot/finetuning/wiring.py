"""The bot's fine-tuning client in lightbulb's DI: a trainer per configured backend, datasets waiting for Confirm
and kept, the token counter, the training cut-off and the job watcher. Its announcements come from Discord's side
(bot/discord/wiring.py's `install_outlets`); the model tests that hold its notices are hooked on by
bot/evaluation/wiring.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path

import openai

from bot.finetuning.awaiting_confirm import PreparedDatasets
from bot.finetuning.backends import Trainers, configured_backends
from bot.finetuning.cutoff import TrainingCutoff
from bot.finetuning.kept import KeptDatasets
from bot.finetuning.openai_trainer import OpenAITrainer
from bot.finetuning.preparing import DatasetPreparer
from bot.finetuning.settings import TrainingSettings
from bot.finetuning.tokens import TokenCounter
from bot.finetuning.trainer import Trainer
from bot.finetuning.watcher import Announcements, JobWatcher
from bot.llm.retirements import Clock, utc_now
from bot.llm.settings import LLMSettings
from bot.metrics import Metrics
from bot.store.jobs import JobStore
from bot.store.requests import JobRequestStore
from bot.wiring import Stage, Wiring


def install(wiring: Wiring, *, keys: Mapping[str, str], default_key: str | None = None, clock: Clock = utc_now) -> None:
    """`keys`: the API key of each backend that has an address of its own, by name; `default_key`: the single
    [training] base_url's (TRAINING_API_KEY)."""
    training = wiring.get(TrainingSettings)
    chat_client = wiring.get(openai.AsyncOpenAI)
    clients = training_clients(training, wiring.get(LLMSettings), chat_client, keys, default_key)
    for own in {id(c): c for c in clients.values() if c is not chat_client}.values():
        wiring.on_close(Stage.WORKERS, own.close)
    trainers = wiring.add(
        Trainers, Trainers({name: OpenAITrainer(c, name=name) for name, c in clients.items()}, training.backend)
    )
    wiring.add(Trainer, trainers.default)
    prepared = wiring.add(PreparedDatasets, PreparedDatasets(Path(training.work_dir), training.confirm_timeout_s))
    wiring.on_open(Stage.STORAGE, lambda: _in_thread(prepared.sweep_leftovers))
    wiring.on_close(Stage.WORKERS, prepared.close)
    kept = wiring.add(KeptDatasets, KeptDatasets(Path(training.work_dir) / "kept", training.keep_datasets_days))
    wiring.on_open(Stage.STORAGE, lambda: _in_thread(kept.sweep))
    counter = wiring.add(TokenCounter, TokenCounter(training.encoding))
    wiring.on_close(Stage.WORKERS, counter.close)
    wiring.add(DatasetPreparer, DatasetPreparer(prepared, counter, training))
    wiring.add(TrainingCutoff, TrainingCutoff(training, clock=clock))
    announce = wiring.get(Announcements)
    watcher = wiring.add(
        JobWatcher,
        JobWatcher(
            trainers,
            wiring.get(JobStore),
            announce.job_ended,
            interval_s=training.watch_interval_s,
            max_backoff_s=training.watch_max_backoff_s,
            requests=wiring.get(JobRequestStore),
            notify_request=announce.request_settled,
            notice_attempts=training.notice_attempts,
            start_grace_s=training.start_grace_s,
            lease_s=training.watch_lease_s,
        ),
    )
    wiring.get(Metrics).read_jobs_watched(lambda: watcher.watching)
    wiring.on_start(watcher.start)  # resumes following jobs (and owed notices) from the database
    wiring.on_close(Stage.INTAKE, watcher.stop)


def training_clients(
    training: TrainingSettings,
    llm: LLMSettings,
    chat_client: openai.AsyncOpenAI,
    keys: Mapping[str, str],
    default_key: str | None,
) -> dict[str, openai.AsyncOpenAI]:
    """A fine-tuning client per configured backend: the chat endpoint's where a backend names no address of its own;
    else one for its base_url (Azure's v1 API and the training service speak the same API), with the key from the
    environment variable it names (TRAINING_API_KEY for the single-backend [training] base_url)."""
    clients: dict[str, openai.AsyncOpenAI] = {}
    for name, backend in configured_backends(training).items():
        if backend.base_url is None:
            clients[name] = chat_client
            continue
        key = keys.get(name)
        if key is None and name not in training.backends:
            key = default_key
        clients[name] = openai.AsyncOpenAI(
            api_key=key or "not-needed",  # a service on loopback needs no key
            base_url=backend.base_url,
            timeout=llm.request_timeout_s,
            max_retries=llm.max_retries,
        )
    return clients


async def _in_thread(work: Callable[[], object]) -> None:
    await asyncio.to_thread(work)
