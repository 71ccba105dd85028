"""The composition root: what each package wires is what lightbulb's DI hands to commands, interfaces included."""

from __future__ import annotations

import base64
import gc
from pathlib import Path

import attrs
import lightbulb

from bot.app import build
from bot.config import Config, Secrets, Settings
from bot.discord.replies import Asker
from bot.discord.voice_rooms import VoiceRooms
from bot.evaluation.eval_sets import EvalSets
from bot.finetuning.trainer import Trainer
from bot.finetuning.watcher import JobWatcher
from bot.limits import Limiter
from bot.llm.answering import Answerer
from bot.llm.settings import LLMSettings
from bot.speech.tts import SpeechEngine
from bot.store.answers import AnswerStore
from tests.fakes.discord import FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


async def test_commands_get_from_lightbulbs_di_what_the_packages_wired(tmp_path: Path) -> None:
    settings = Settings()
    settings = attrs.evolve(
        settings,
        storage=attrs.evolve(settings.storage, url=f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3"),
        training=attrs.evolve(settings.training, work_dir=str(tmp_path / "training")),
    )
    token = base64.urlsafe_b64encode(b"1234567890").decode().rstrip("=") + ".not.connected"
    config = Config(settings, Secrets(token, "key", "http://127.0.0.1:9/v1", None))
    built = build(config)
    kinds = [Settings, LLMSettings, AnswerStore, Limiter, Answerer, Trainer, JobWatcher, EvalSets, SpeechEngine]
    async with built.client.di.enter_context(lightbulb.di.Contexts.DEFAULT) as container:
        for kind in [*kinds, VoiceRooms, Asker]:
            assert await container.get(kind) is built.get(kind)
    assert built.get(Settings) is config.settings and built.get(LLMSettings) is config.settings.llm


async def test_bots_run_one_after_another_in_one_process_are_let_go_of(tmp_path: Path) -> None:
    """The extensions' loaders are module objects shared by every bot a process runs (the tests, the benchmarks): a
    stopped bot's commands, listeners and buttons are taken off them, so it does not stay alive with all it built
    (lightbulb itself holds on to the latest one only)."""
    for run in range(2):  # each with a Discord of its own, which lets it IDENTIFY at once
        async with (
            FakeDiscord() as discord,
            FakeOpenAI() as openai_fake,
            running_bot(discord, openai_fake, tmp_path / str(run)),
        ):
            pass
    gc.collect()
    assert len([o for o in gc.get_objects() if issubclass(type(o), lightbulb.Client)]) <= 1
