"""Several training backends side by side, through the fake Discord: a job trained on OpenAI (the fake) is trained
again on Azure OpenAI's v1 API (a second fake on its own port, with its own key from its own variable), the same
bytes, its price in the estimate; the new model is tested against the server's test set before its notice offers
Activate; /jobs cancel reaches the backend the job runs on; past OpenAI's cut-off Azure still takes the job."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from bot.config import Config, Settings
from bot.finetuning.held_out import split_approved
from bot.finetuning.settings import BackendSettings
from bot.finetuning.watcher import JobWatcher
from bot.store.corrections import CorrectionStore
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore
from tests.e2e.test_model_retirement import SetClock, cutoff_day
from tests.e2e.test_model_testing import FACTS, approve, judge, knows
from tests.e2e.test_training import reply, sft_lines, summary
from tests.fakes.discord import FakeDiscord, Message, said
from tests.fakes.harness import make_config, running_bot
from tests.fakes.openai import FakeOpenAI

BASE = "gpt-4.1-mini-2025-04-14"
AZURE_PRICE = 1_000_000.0  # USD per 1M tokens: the estimate in dollars is the billed token count


@pytest.fixture
async def azure() -> AsyncIterator[FakeOpenAI]:
    """Stands for https://RESOURCE.openai.azure.com/openai/v1/: the same API, its own key."""
    async with FakeOpenAI() as fake:
        fake.api_key = "azure-key-from-its-own-variable"
        yield fake


def two_backends(discord: FakeDiscord, openai_fake: FakeOpenAI, azure: FakeOpenAI, data_dir: Path) -> Config:
    """The single-backend [training] config (OpenAI, the default) and an Azure backend beside it."""
    backend = BackendSettings(
        kind="azure",
        base_url=azure.base_url,
        key_env="AZURE_OPENAI_API_KEY",
        base_models=[BASE],
        new_jobs_until="2027-04-01",
        prices_per_million_tokens={BASE: AZURE_PRICE},
    )
    sections: dict[str, Any] = {
        "llm": {"default_model": "gpt-4o-mini"},
        "testing": {"judge_model": "judge"},
        "training": {"backends": {"azure": backend}},
    }
    config = make_config(discord, openai_fake, data_dir, **sections)
    # What load_config reads from the variable the backend names (tests/test_config.py checks that part).
    return attrs.evolve(config, secrets=attrs.evolve(config.secrets, training_keys={"azure": azure.api_key}))


async def train_once(discord: FakeDiscord, openai_fake: FakeOpenAI) -> str:
    """Job #1 on the default backend, from a file; returns its remote id."""
    data = discord.attachment("faq.jsonl", sft_lines(10), "application/jsonl")
    card = await summary(discord.slash("train", options={"data": data, "suffix": "faq"}, user=discord.admin))
    assert "OpenAI fine-tuning" in json.dumps(card.embeds)
    confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
    await confirm.wait(lambda e: e.kind == "edit")
    (remote_id,) = openai_fake.jobs
    return remote_id


def field(card: Message, name: str) -> str:
    (embed,) = card.embeds
    return next(str(f["value"]) for f in embed["fields"] if f["name"] == name)


async def test_train_again_on_azure_sends_the_same_data_there_and_tests_the_new_model_before_activate(
    discord: FakeDiscord, openai_fake: FakeOpenAI, azure: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.answer_as("gpt-4o-mini", "No idea.")  # the server's current model knows nothing
    openai_fake.answer_as("judge", judge)
    config = two_backends(discord, openai_fake, azure, tmp_path)
    clock = SetClock(cutoff_day() - dt.timedelta(days=20))
    async with running_bot(discord, openai_fake, tmp_path, config=config, clock=clock) as built:
        for question, fixed in FACTS.items():
            await approve(built, discord, question, fixed)
        first = await train_once(discord, openai_fake)
        openai_fake.advance(first, "succeeded")

        names = discord.autocomplete("train", "backend", {"backend": ""}, user=discord.admin)
        await names.wait_callback()
        assert [c["value"] for c in names.choices] == ["openai", "azure"]
        models = discord.autocomplete("train", "base_model", {"backend": "azure", "base_model": ""}, user=discord.admin)
        await models.wait_callback()
        assert [c["value"] for c in models.choices] == [BASE]  # the base models of the backend chosen
        unknown = discord.slash("train", options={"again": 1, "backend": "nowhere"}, user=discord.admin)
        assert "`nowhere` is not a training backend" in await reply(unknown)

        again = discord.slash("train", options={"again": 1, "backend": "azure"}, user=discord.admin)
        card = await summary(again)
        assert "Azure OpenAI fine-tuning" in field(card, "Where") and "job #1" in field(card, "Data")
        billed = int(re.sub(r"\D", "", re.search(r"≈([\d,]+) billed", field(card, "Tokens"))[1]))  # type: ignore[index]
        assert field(card, "Estimated cost") == f"≈ ${billed * AZURE_PRICE / 1_000_000:,.2f}"  # Azure's price
        assert "2027-04-01" in (card.content or "")  # Azure's own last day, not OpenAI's
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        await confirm.wait(lambda e: e.kind == "edit")

        assert list(openai_fake.jobs) == [first]  # nothing more went to OpenAI
        (second,) = azure.jobs.values()  # accepted under Azure's key (the fake answers 401 to any other)
        assert second.payload["model"] == BASE and second.payload["user_provided_suffix"] == "faq"
        uploads = [openai_fake.files[openai_fake.jobs[first].payload["training_file"]][1]]
        uploads.append(azure.files[second.payload["training_file"]][1])
        assert uploads == [sft_lines(10), sft_lines(10)]  # the same data, byte for byte
        job = await built.get(JobStore).get(2)
        assert job is not None and job.backend == "azure"

        model = azure.advance(second.payload["id"], "succeeded")["fine_tuned_model"]
        openai_fake.answer_as(model, knows)  # the chat endpoint serves the Azure deployment of the new model
        await built.get(JobWatcher).run_once()  # followed on Azure: OpenAI does not know this job

        def notice() -> list[Message]:
            return [m for m in discord.bot_messages_in(discord.channel_id) if "job #2 finished" in m.content]

        (done,) = await discord.wait_for(notice)
        approved = await built.get(CorrectionStore).with_status(discord.guild_id, "approved")
        n = len(split_approved(approved, built.get(Settings).training).held_out)
        assert f"new {n}/{n}, current 0/{n}" in done.content  # tested against the test set before the notice
        assert any(r["model"] == model for r in openai_fake.chat_requests)
        activate = discord.click(
            done, next(c for c in done.custom_ids if c.startswith("activate:")), user=discord.admin
        )
        assert f"now uses `{model}`" in said(await activate.wait_callback())
        assert await built.get(GuildSettingsStore).active_model(discord.guild_id) == model


async def test_jobs_cancel_reaches_the_backend_the_job_runs_on(
    discord: FakeDiscord, openai_fake: FakeOpenAI, azure: FakeOpenAI, tmp_path: Path
) -> None:
    config = two_backends(discord, openai_fake, azure, tmp_path)
    clock = SetClock(cutoff_day() - dt.timedelta(days=20))
    async with running_bot(discord, openai_fake, tmp_path, config=config, clock=clock) as built:
        first = await train_once(discord, openai_fake)
        again = discord.slash("train", options={"again": 1, "backend": "azure"}, user=discord.admin)
        card = await summary(again)
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        await confirm.wait(lambda e: e.kind == "edit")
        (remote_id,) = azure.jobs
        azure.advance(remote_id, "running")

        asked = discord.slash("jobs", options={"job": 2}, subcommand="cancel", user=discord.admin)
        await asked.wait_callback()
        assert asked.original is not None
        sure = discord.click(asked.original, asked.original.custom_ids[0], user=discord.admin)
        await sure.wait_callback()
        assert "Training job #2 is cancelled" in asked.original.content
        assert azure.jobs[remote_id].payload["status"] == "cancelled"
        assert openai_fake.jobs[first].payload["status"] != "cancelled"  # the OpenAI job runs on
        job = await built.get(JobStore).get(2)
        assert job is not None and job.status == "cancelled"


async def test_past_openais_cut_off_train_again_on_azure_still_starts_a_job(
    discord: FakeDiscord, openai_fake: FakeOpenAI, azure: FakeOpenAI, tmp_path: Path
) -> None:
    config = two_backends(discord, openai_fake, azure, tmp_path)
    clock = SetClock(cutoff_day() - dt.timedelta(days=20))
    async with running_bot(discord, openai_fake, tmp_path, config=config, clock=clock):
        await train_once(discord, openai_fake)
        clock.now = cutoff_day() + dt.timedelta(days=1)  # OpenAI takes no new jobs; Azure does until 2027-04-01
        refused = await reply(discord.slash("train", options={"again": 1}, user=discord.admin))
        assert "OpenAI takes no new fine-tuning jobs since" in refused and "`backend:` `azure`" in refused
        card = await summary(discord.slash("train", options={"again": 1, "backend": "azure"}, user=discord.admin))
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        await confirm.wait(lambda e: e.kind == "edit")
        assert len(azure.jobs) == 1 and len(openai_fake.jobs) == 1
