"""The health endpoint as an orchestrator and Prometheus see it: /healthz, /readyz and /metrics of a running bot."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import hikari
from prometheus_client.parser import text_string_to_metric_families

from bot.app import BuiltBot, build
from bot.health import HealthServer
from tests.fakes.discord import FakeDiscord
from tests.fakes.harness import make_config, running_bot
from tests.fakes.openai import FakeOpenAI


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, body


def health_url(built: BuiltBot) -> str:
    url = built.get(HealthServer).url
    assert url is not None, "the health endpoint is not serving"
    return url


async def scrape(built: BuiltBot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(sample name, labels): value}."""
    status, text = await get(health_url(built) + "/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def answered(discord: FakeDiscord, question: str) -> None:
    handle = discord.slash("ask", options={"question": question})
    await handle.wait(lambda e: "correct:" in str(e.json.get("components")))


def answered_message(discord: FakeDiscord, message: dict[str, Any]) -> bool:
    """The bot's reply to `message` shows its Correct button: the answer is whole."""
    replies = [m for m in discord.bot_messages_in(int(message["channel_id"])) if m.reply_to == int(message["id"])]
    return any(c.startswith("correct:") for m in replies for c in m.custom_ids)


async def test_ready_only_once_the_shard_has_connected(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    built = build(make_config(discord, openai_fake, tmp_path), rest_url=discord.rest_url)
    before: dict[str, Any] = {}

    async def probe_while_starting(_: hikari.StartingEvent) -> None:
        # hikari starts the shards only after every StartingEvent listener is done: this is before any IDENTIFY.
        await asyncio.wait_for(built.get(HealthServer).serving.wait(), 10)
        before["identifies"] = discord.identifies
        before["healthz"] = await get(health_url(built) + "/healthz")
        before["readyz"] = await get(health_url(built) + "/readyz")

    built.bot.subscribe(hikari.StartingEvent, probe_while_starting)
    await built.bot.start(check_for_updates=False, shard_ids=None, shard_count=1)
    try:
        await asyncio.wait_for(built.ready.wait(), 30)
        assert before["identifies"] == 0
        assert before["healthz"] == (200, {"status": "alive"})
        status, body = before["readyz"]
        assert status == 503 and body["status"] == "not ready" and "shard" in body["reason"]

        assert await get(health_url(built) + "/readyz") == (200, {"status": "ready"})
        assert discord.identifies == 1
        # Loopback unless configured otherwise: nothing outside the machine reaches it.
        assert {host for host, _ in built.get(HealthServer).addresses} == {"127.0.0.1"}
    finally:
        await built.bot.close()
    assert built.get(HealthServer).url is None  # stopped with the bot


async def test_metrics_count_interactions_answers_by_route_and_model_errors(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, llm={"max_retries": 0}) as built:
        first = discord.slash("ask", options={"question": "What is 2 + 2?"})
        await first.wait(lambda e: "correct:" in str(e.json.get("components")))
        await answered(discord, "And 3 + 3?")
        assert first.original is not None
        opened = discord.click(first.original, first.original.custom_ids[0])  # Correct: opens the form
        await opened.wait_callback()
        assert opened.modal is not None
        saved = discord.submit_modal(opened.modal["custom_id"], {"corrected": "Four."})
        await saved.wait_callback()
        openai_fake.fail_next(429, path_prefix="/chat", retry_after=0.01)
        limited = discord.slash("ask", options={"question": "Still there?"})
        await limited.wait(lambda e: "rate-limiting" in str(e.json.get("content")))
        mention = discord.post_message("hello?", mentions_bot=True)
        await discord.wait_for(lambda: answered_message(discord, mention))
        dm = discord.post_message("hi in private", guild_id=None)
        await discord.wait_for(lambda: answered_message(discord, dm))

        samples = await scrape(built)
        assert samples[("teachbot_interactions_total", (("kind", "command"),))] == 3
        assert samples[("teachbot_interactions_total", (("kind", "component"),))] == 1
        assert samples[("teachbot_interactions_total", (("kind", "modal"),))] == 1
        assert samples[("teachbot_interactions_total", (("kind", "autocomplete"),))] == 0
        assert samples[("teachbot_answers_total", (("route", "slash"),))] == 2
        assert samples[("teachbot_answers_total", (("route", "mention"),))] == 1
        assert samples[("teachbot_answers_total", (("route", "dm"),))] == 1
        assert samples[("teachbot_answers_total", (("route", "chat"),))] == 0
        assert samples[("teachbot_model_errors_total", (("kind", "rate_limit"),))] == 1
        assert samples[("teachbot_model_errors_total", (("kind", "timeout"),))] == 0
        # The one shard this process holds reports its gateway latency (NaN until a heartbeat is acknowledged).
        assert [labels for name, labels in samples if name == "teachbot_gateway_latency_seconds"] == [(("shard", "0"),)]
        assert samples[("teachbot_transcription_queue_depth", ())] == 0
        assert samples[("teachbot_voice_sessions", ())] == 0
        assert samples[("teachbot_jobs_watched", ())] == 0


async def test_two_bots_in_one_process_count_apart(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    async with (
        FakeDiscord() as one,
        FakeDiscord() as two,
        running_bot(one, openai_fake, tmp_path / "one") as first,
        running_bot(two, openai_fake, tmp_path / "two") as second,
    ):
        assert health_url(first) != health_url(second)
        await answered(one, "one?")
        await answered(one, "two?")
        await answered(two, "three?")
        slash = ("teachbot_answers_total", (("route", "slash"),))
        assert (await scrape(first))[slash] == 2
        assert (await scrape(second))[slash] == 1
