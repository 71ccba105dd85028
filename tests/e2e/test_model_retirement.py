"""Models that shut down: a missing model never silences a server, /train knows OpenAI's cut-off, admins are warned."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import attrs

from bot.config import Settings
from bot.discord.model_notices import ModelNotices
from bot.finetuning.settings import TrainingSettings
from bot.finetuning.watcher import JobWatcher
from bot.llm.retirements import shutdown_of
from bot.llm.settings import LLMSettings
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore, NewJob
from tests.e2e.test_training import reply, sft_lines, summary
from tests.fakes.discord import Event, FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


class SetClock:
    """The bot's clock, set by the test: nothing depends on today's date."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def cutoff_day() -> dt.datetime:
    """Noon on the day OpenAI takes no new fine-tuning jobs, as configured."""
    day = dt.date.fromisoformat(TrainingSettings().openai_new_jobs_until or "")
    return dt.datetime.combine(day, dt.time(12), dt.UTC)


def final(e: Event) -> bool:
    return "correct:" in str(e.json.get("components"))


def said(e: Event) -> str:
    return str((e.json.get("data") or e.json).get("content", ""))


def chat_posts(fake: FakeOpenAI) -> int:
    return sum(1 for method, path, _ in fake.requests if (method, path) == ("POST", "/chat/completions"))


async def test_a_shut_down_fine_tune_is_answered_by_the_previous_model_admins_told_once_no_retry_storm(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    clock = SetClock(cutoff_day() - dt.timedelta(days=20))
    async with running_bot(discord, openai_fake, tmp_path, clock=clock) as built:
        retry_s = built.get(Settings).llm.model_retry_s
        before = discord.slash("model", subcommand="use", options={"name": "gpt-6.1-terra"}, user=discord.admin)
        assert "now uses `gpt-6.1-terra`" in said(await before.wait_callback())
        # A model trained here: its job ran from this channel.
        data = discord.attachment("faq.jsonl", sft_lines(12), "application/jsonl")
        started = discord.slash("train", options={"data": data, "suffix": "faq"}, user=discord.admin)
        card = await summary(started)
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        await confirm.wait(lambda e: e.kind == "edit")
        (job_id,) = openai_fake.jobs
        tuned = openai_fake.advance(job_id, "succeeded")["fine_tuned_model"]
        await built.get(JobWatcher).run_once()
        await discord.wait_for(lambda: [m for m in discord.bot_messages_in(discord.channel_id) if tuned in m.content])
        switched = discord.slash("model", subcommand="use", options={"name": tuned}, user=discord.admin)
        assert f"now uses `{tuned}`" in said(await switched.wait_callback())
        asked = discord.slash("ask", options={"question": "first"})
        assert "Answer to: first" in said(await asked.wait(final))
        assert openai_fake.chat_requests[-1]["model"] == tuned

        openai_fake.retire(tuned)  # OpenAI shuts the fine-tune down
        posts = chat_posts(openai_fake)
        for question in ("second", "third", "fourth"):
            asked = discord.slash("ask", options={"question": question})
            answer = said(await asked.wait(final))
            assert f"Answer to: {question}" in answer and "answered by `gpt-6.1-terra`" in answer
            assert "does not exist" not in answer and "404" not in answer
        # One refused request, then the previous model only: the missing model is not asked on every question.
        assert openai_fake.chat_refused == [tuned]
        assert chat_posts(openai_fake) == posts + 4
        assert [r["model"] for r in openai_fake.chat_requests[-3:]] == ["gpt-6.1-terra"] * 3
        told = [m for m in discord.bot_messages_in(discord.channel_id) if "no longer answers" in m.content]
        assert len(told) == 1 and tuned in told[0].content and "gpt-6.1-terra" in told[0].content
        shown = discord.slash("model", subcommand="show")
        text = said(await shown.wait_callback())
        assert f"uses `{tuned}`" in text and "`gpt-6.1-terra` answers instead" in text

        clock.now += dt.timedelta(seconds=retry_s + 1)  # later, the missing model is tried once again
        asked = discord.slash("ask", options={"question": "fifth"})
        assert "answered by `gpt-6.1-terra`" in said(await asked.wait(final))
        assert openai_fake.chat_refused == [tuned, tuned]
        told = [m for m in discord.bot_messages_in(discord.channel_id) if "no longer answers" in m.content]
        assert len(told) == 1


async def test_train_on_openai_refuses_from_the_cut_off_day_before_anything_is_downloaded_or_uploaded(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, clock=SetClock(cutoff_day())):
        data = discord.attachment("faq.jsonl", sft_lines(12), "application/jsonl")
        refused = discord.slash("train", options={"data": data, "suffix": "faq"}, user=discord.admin)
        text = await reply(refused)
        assert "no new fine-tuning jobs" in text and 'backend = "local"' in text
        assert refused.ephemeral
        assert openai_fake.files == {} and openai_fake.jobs == {} and discord.file_downloads == []


async def test_train_says_how_many_days_are_left_and_a_confirm_after_the_cut_off_uploads_nothing(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    clock = SetClock(cutoff_day() - dt.timedelta(days=3))
    async with running_bot(discord, openai_fake, tmp_path, clock=clock):
        data = discord.attachment("faq.jsonl", sft_lines(12), "application/jsonl")
        started = discord.slash("train", options={"data": data, "suffix": "faq"}, user=discord.admin)
        card = await summary(started)
        assert "3 days left" in card.content
        clock.now += dt.timedelta(days=3)  # the admin confirms on the cut-off day
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        assert "no new fine-tuning jobs" in json.dumps((await confirm.wait_callback()).json)
        assert openai_fake.files == {} and openai_fake.jobs == {}


async def test_servers_whose_model_shuts_down_soon_are_told_once_also_after_a_restart(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    llm = LLMSettings()
    tuned = "ft:gpt-4o-mini-2024-07-18:fake-org:faq:abc123"
    shutdown = shutdown_of(tuned, llm.shutdowns)
    assert shutdown is not None
    day = dt.datetime.combine(shutdown.date, dt.time(12), dt.UTC)
    clock = SetClock(day - dt.timedelta(days=llm.shutdown_notice_days + 1))
    admin_channels = {"admin_channels": {str(discord.guild_id): discord.other_channel_id}}

    def told() -> list[str]:
        return [m.content for m in discord.bot_messages_in(discord.other_channel_id) if "shuts down" in m.content]

    async with running_bot(discord, openai_fake, tmp_path, clock=clock, discord=admin_channels) as built:
        notices = built.get(ModelNotices)
        await built.get(GuildSettingsStore).set_active_model(discord.guild_id, tuned, discord.admin.id)
        assert await notices.warn_shutdowns() == 0  # not yet within the lead time
        clock.now += dt.timedelta(days=2)
        assert await notices.warn_shutdowns() == 1
        assert await notices.warn_shutdowns() == 0
        (text,) = told()
        assert tuned in text and f"{shutdown.date:%Y-%m-%d}" in text and "/model use" in text
        assert "gpt-4o-mini-2024-07-18" in text  # the base it dies with
    async with running_bot(discord, openai_fake, tmp_path, clock=clock, discord=admin_channels) as built:
        assert await built.get(ModelNotices).warn_shutdowns() == 0
    assert len(told()) == 1


async def test_train_again_trains_a_jobs_kept_data_on_another_base_model(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    clock = SetClock(cutoff_day() - dt.timedelta(days=20))
    async with running_bot(discord, openai_fake, tmp_path, clock=clock) as built:
        data = discord.attachment("faq.jsonl", sft_lines(12), "application/jsonl")
        started = discord.slash("train", options={"data": data, "suffix": "faq"}, user=discord.admin)
        card = await summary(started)
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        await confirm.wait(lambda e: e.kind == "edit")
        (first,) = openai_fake.jobs.values()
        first_job = await built.get(JobStore).get(1)
        assert first_job is not None

        fields = {f.name: getattr(first_job, f.name) for f in attrs.fields(NewJob)}
        fields |= {"guild_id": discord.other_guild_id, "remote_id": "ftjob-elsewhere", "status": "succeeded"}
        elsewhere = await built.get(JobStore).add(NewJob(**fields))  # another server's job, with the same data
        for job_id in (elsewhere.id, 99):
            refused = discord.slash("train", options={"again": job_id}, user=discord.admin)
            assert f"no training job #{job_id}" in await reply(refused)
        again = discord.slash("train", options={"again": 1, "base_model": "gpt-4o-mini-2024-07-18"}, user=discord.admin)
        card = await summary(again)
        assert "gpt-4o-mini-2024-07-18" in json.dumps(card.embeds) and "job #1" in json.dumps(card.embeds)
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        await confirm.wait(lambda e: e.kind == "edit")
        second = next(j for j in openai_fake.jobs.values() if j is not first)
        assert second.payload["model"] == "gpt-4o-mini-2024-07-18"
        assert second.payload["user_provided_suffix"] == "faq"
        uploaded = [openai_fake.files[j.payload["training_file"]][1] for j in (first, second)]
        assert uploaded == [sft_lines(12), sft_lines(12)]  # the same data, byte for byte


async def test_train_again_says_when_a_jobs_data_was_not_kept(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    clock = SetClock(cutoff_day() - dt.timedelta(days=20))
    async with running_bot(discord, openai_fake, tmp_path, clock=clock, training={"keep_datasets_days": 0.0}):
        data = discord.attachment("faq.jsonl", sft_lines(12), "application/jsonl")
        started = discord.slash("train", options={"data": data}, user=discord.admin)
        card = await summary(started)
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        await confirm.wait(lambda e: e.kind == "edit")
        again = discord.slash("train", options={"again": 1}, user=discord.admin)
        assert "no longer kept" in await reply(again)
        assert len(openai_fake.jobs) == 1
