"""/train, /jobs and the job notice through the fake Discord and the fake OpenAI fine-tuning API."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI
from PIL import Image

from bot.config import Settings
from bot.finetuning.trainer import Trainer
from bot.finetuning.watcher import JobWatcher
from bot.store.answers import AnswerStore
from bot.store.corrections import CorrectionStore
from bot.store.jobs import JobStore
from bot.store.requests import JobRequestStore
from tests.fakes.discord import Event, FakeDiscord, InteractionHandle, Message
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


def sft_lines(n: int) -> bytes:
    return b"".join(
        json.dumps(
            {"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"A{i}."}]}
        ).encode()
        + b"\n"
        for i in range(n)
    )


def said(e: Event) -> str:
    data = e.json.get("data", e.json) if e.kind == "callback" else e.json
    return str((data or {}).get("content", "")) + json.dumps((data or {}).get("embeds", []))


async def reply(handle: InteractionHandle) -> str:
    event = await handle.wait(lambda e: e.kind in ("followup", "edit") or (e.kind == "callback" and e.type == 4))
    return said(event)


async def summary(handle: InteractionHandle) -> Message:
    await handle.wait(lambda e: "train:confirm" in str(e.json.get("components")))
    return next(m for m in handle.messages if any("train:confirm" in c for c in m.custom_ids))


async def test_train_from_a_file_follow_the_job_and_activate_its_model(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path) as built:
        data = discord.attachment("faq.jsonl", sft_lines(12), "application/jsonl")
        started = discord.slash("train", options={"data": data, "suffix": "faq"}, user=discord.admin)
        card = await summary(started)
        assert card is started.original  # the deferred "thinking…" response becomes the summary
        assert "Ready to train" in json.dumps(card.embeds) and "12" in json.dumps(card.embeds)
        assert started.ephemeral
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        await confirm.wait(lambda e: e.kind == "edit")
        assert "Started training job #1" in card.content
        (job_id,) = openai_fake.jobs
        job = openai_fake.jobs[job_id].payload
        assert job["method"]["type"] == "supervised" and job["user_provided_suffix"] == "faq"
        assert job["hyperparameters"]["n_epochs"] == 3  # the epochs its cost estimate counted, not OpenAI's "auto"
        uploaded = openai_fake.files[job["training_file"]][1]
        assert uploaded == sft_lines(12)

        openai_fake.advance(job_id, "running", steps=6)
        await built.get(JobWatcher).run_once()
        choices = discord.autocomplete("jobs", "job", {"job": ""}, subcommand="show")
        await choices.wait_callback()
        assert [c["name"] for c in choices.choices] == ["#1 · running · gpt-4.1-mini-2025-04-14"]
        shown = discord.slash("jobs", subcommand="show", options={"job": 1})
        plot = await shown.wait(lambda e: bool(e.files))
        assert "6/6 steps" in json.dumps(plot.json)
        image = Image.open(io.BytesIO(plot.files[0].data))
        assert image.format == "PNG" and image.size == (640, 360)

        openai_fake.advance(job_id, "succeeded")
        await built.get(JobWatcher).run_once()
        notices = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.channel_id) if "finished" in m.content]
        )
        model = openai_fake.jobs[job_id].payload["fine_tuned_model"]
        assert model in notices[0].content
        await built.get(JobWatcher).run_once()  # a second round does not announce it again
        assert len([m for m in discord.bot_messages_in(discord.channel_id) if "finished" in m.content]) == 1

        refused = discord.click(notices[0], notices[0].custom_ids[0], user=discord.member)
        assert "Only admins" in said(await refused.wait_callback())
        activated = discord.click(notices[0], notices[0].custom_ids[0], user=discord.admin)
        assert model in said(await activated.wait_callback())
        asked = discord.slash("ask", options={"question": "who are you?"})
        await asked.wait(lambda e: "correct:" in str(e.json.get("components")))
        assert openai_fake.chat_requests[-1]["model"] == model
        use = discord.autocomplete("model", "name", {"name": "ft:"}, subcommand="use", user=discord.admin)
        await use.wait_callback()
        assert [c["value"] for c in use.choices] == [model]


async def test_train_from_approved_corrections_as_preference_pairs(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply(*[f"Wrong answer {i}" for i in range(10)])
    async with running_bot(discord, openai_fake, tmp_path, limits={"model_calls": 100}) as built:
        for i in range(10):
            asked = discord.slash("ask", options={"question": f"Question {i}?"})
            await asked.wait(lambda e: "correct:" in str(e.json.get("components")))
            answer = await built.get(AnswerStore).latest(discord.channel_id, discord.member.id)
            assert answer is not None
            saved = await built.get(CorrectionStore).submit(answer, discord.member.id, f"Right answer {i}")
            await built.get(CorrectionStore).review(saved.correction.id, discord.admin.id, "approved")
        started = discord.slash("train", options={"source": "corrections", "method": "dpo"}, user=discord.admin)
        card = await summary(started)
        assert "10 approved corrections" in json.dumps(card.embeds)
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        await confirm.wait(lambda e: e.kind == "edit")
        (job,) = [j.payload for j in openai_fake.jobs.values()]
        assert job["method"]["type"] == "dpo"
        lines = [json.loads(x) for x in openai_fake.files[job["training_file"]][1].splitlines()]
        assert lines[0]["preferred_output"][0]["content"] == "Right answer 0"
        assert lines[0]["non_preferred_output"][0]["content"] == "Wrong answer 0"


async def test_bad_training_files_are_refused_with_the_line_and_nothing_is_uploaded(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    small = {"max_upload_mb": 0.01, "work_dir": str(tmp_path / "work")}
    async with running_bot(discord, openai_fake, tmp_path, training=small) as built:
        cases: list[tuple[dict[str, Any], str]] = [
            (
                discord.attachment("a.jsonl", sft_lines(11) + b"{broken\n", "application/jsonl"),
                "line 12: not valid JSON",
            ),
            (
                discord.attachment("b.csv", b"prompt,completion\nx,y\n", "text/csv"),
                "line 1: the header must be question,answer",
            ),
            (discord.attachment("c.jsonl", sft_lines(3), "application/jsonl"), "at least 10 are needed"),
            (
                discord.attachment(
                    "d.jsonl",
                    sft_lines(5) + b'{"messages": [{"role": "user", "content": "q"}]}\n' + sft_lines(5),
                    "application/jsonl",
                ),
                "line 6: needs at least one assistant message",
            ),
        ]
        for data, expected in cases:
            handle = discord.slash("train", options={"data": data}, user=discord.admin)
            assert expected in await reply(handle)
        downloads = len(discord.file_downloads)
        picture = discord.attachment("cat.png", b"\x89PNG" + b"0" * 100, "image/png")
        wrong_type = discord.slash("train", options={"data": picture}, user=discord.admin)
        assert "is not a training file" in await reply(wrong_type)
        huge = discord.attachment("big.jsonl", sft_lines(400), "application/jsonl")
        too_big = discord.slash("train", options={"data": huge}, user=discord.admin)
        assert "may be at most 10.2 KB" in await reply(too_big)
        assert len(discord.file_downloads) == downloads  # refused before downloading
        member = discord.slash("train", options={"data": picture}, user=discord.member)
        assert "Only admins" in await reply(member)
        assert openai_fake.files == {} and openai_fake.jobs == {}
        assert (await built.get(JobStore).list(discord.guild_id)).total == 0


async def test_cancel_a_job_and_the_notice_survives_a_restart(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path):
        for suffix in ("one", "two"):
            data = discord.attachment("faq.jsonl", sft_lines(10), "application/jsonl")
            started = discord.slash("train", options={"data": data, "suffix": suffix}, user=discord.admin)
            card = await summary(started)
            confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
            await confirm.wait(lambda e: e.kind == "edit")
        asked = discord.slash("jobs", subcommand="cancel", options={"job": 1}, user=discord.admin)
        await asked.wait_callback()
        assert asked.original is not None
        done = discord.click(asked.original, asked.original.custom_ids[0], user=discord.admin)
        await done.wait_callback()
        assert "is cancelled" in asked.original.content
        await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.channel_id) if "cancelled" in m.content]
        )
    # Job 2 finishes while the bot is down; the notice is posted when it comes back.
    remote_two = next(j for j, job in openai_fake.jobs.items() if job.payload["user_provided_suffix"] == "two")
    openai_fake.advance(remote_two, "succeeded")
    async with running_bot(discord, openai_fake, tmp_path):
        notice = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.channel_id) if "job #2 finished" in m.content]
        )
        assert openai_fake.jobs[remote_two].payload["fine_tuned_model"] in notice[0].content
        listed = discord.slash("jobs", subcommand="list")
        await listed.wait_callback()
        text = json.dumps(listed.original.embeds if listed.original else [])
        assert "#2** succeeded" in text and "#1** cancelled" in text


async def test_datasets_left_by_a_crash_are_removed_when_the_bot_starts(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    leftovers = [work / f"{'a' * 32}.jsonl", work / f"{'b' * 32}.upload"]
    for path in leftovers:
        path.write_bytes(sft_lines(10))
    unrelated = work / "notes.txt"  # not a name the bot makes: left alone
    unrelated.write_text("mine")
    async with running_bot(discord, openai_fake, tmp_path, training={"work_dir": str(work)}):
        assert not any(path.exists() for path in leftovers)
        assert unrelated.read_text() == "mine"


async def _confirm(discord: FakeDiscord, suffix: str) -> str:
    """/train a file and click Confirm; what the admin is shown then."""
    data = discord.attachment("faq.jsonl", sft_lines(10), "application/jsonl")
    started = discord.slash("train", options={"data": data, "suffix": suffix}, user=discord.admin)
    card = await summary(started)
    confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
    return said(await confirm.wait(lambda e: e.kind in ("edit", "followup")))


async def test_a_failed_jobs_long_error_is_cut_to_fit_discords_message_limit(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    # A training service's error can be a whole traceback; Discord refuses a message over 2,000 characters, and
    # the notice would never be posted.
    async with running_bot(discord, openai_fake, tmp_path) as built:
        await _confirm(discord, "long")
        (job_id,) = openai_fake.jobs
        openai_fake.advance(job_id, "failed", error="Traceback (most recent call last):\n" + "  frame\n" * 400)
        await built.get(JobWatcher).run_once()
        (notice,) = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.channel_id) if "job #1 failed" in m.content]
        )
        assert len(notice.content) <= 2000 and "Traceback (most recent call last):" in notice.content
        assert notice.content.endswith("…")


async def test_an_unknown_base_model_too_long_to_quote_is_refused_in_a_short_private_message(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    # The refusal quoted the typed name whole: over Discord's 2,000 characters it was itself refused (50035), and
    # the admin saw "The application did not respond".
    async with running_bot(discord, openai_fake, tmp_path):
        typed = "my-model-" + "x" * 2500
        handle = discord.slash("train", options={"source": "corrections", "base_model": typed}, user=discord.admin)
        refused = await handle.wait_callback()
        assert refused.type == 4 and handle.ephemeral
        assert "is not a base model this bot trains" in handle.content and len(handle.content) <= 2000
        assert "`gpt-4.1-mini-2025-04-14`" in handle.content and not openai_fake.files


async def test_a_start_that_times_out_starts_one_job_which_is_followed_and_announced(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, llm={"request_timeout_s": 0.3}) as built:
        openai_fake.slow_next("POST", "/fine_tuning/jobs", seconds=0.8)  # created, but the answer comes too late
        assert "Started training job #1" in await _confirm(discord, "slow")
        (job_id,) = openai_fake.jobs  # one job, not one per client retry
        openai_fake.advance(job_id, "succeeded")
        await built.get(JobWatcher).run_once()
        notices = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.channel_id) if "job #1 finished" in m.content]
        )
        assert openai_fake.jobs[job_id].payload["fine_tuned_model"] in notices[0].content
        assert len(openai_fake.jobs) == 1


async def test_a_refused_start_deletes_the_uploaded_dataset(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path) as built:
        openai_fake.fail_next(400, path_prefix="/fine_tuning/jobs")
        assert "refused to start the job" in await _confirm(discord, "refused")
        assert openai_fake.jobs == {} and openai_fake.files == {}  # nothing left to pay for or to leak
        assert (await built.get(JobStore).list(discord.guild_id)).total == 0


async def test_a_job_started_just_before_a_crash_is_followed_after_the_restart(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    from bot.finetuning.trainer import TAG_KEY, upload_name
    from bot.store.requests import NewJobRequest

    async with running_bot(discord, openai_fake, tmp_path) as built:
        # What a bot that died between the provider's answer and its own record leaves behind.
        request = await built.get(JobRequestStore).add(
            NewJobRequest(
                "t" * 32,
                discord.guild_id,
                discord.channel_id,
                discord.admin.id,
                "openai",
                "gpt-4.1-mini-2025-04-14",
                "sft",
                None,
                "ab" * 32,
                10,
            )
        )
        data = tmp_path / "d.jsonl"
        data.write_bytes(sft_lines(10))
        uploaded = await built.get(Trainer).upload(data, upload_name(request.tag))
        await built.get(JobRequestStore).uploaded(request.id, uploaded.id)
        job = await built.get(AsyncOpenAI).fine_tuning.jobs.create(
            model="gpt-4.1-mini-2025-04-14", training_file=uploaded.id, metadata={TAG_KEY: request.tag}
        )
        await built.get(JobWatcher).stop()  # it would adopt the job now: this bot is the one that "crashed"
    async with running_bot(discord, openai_fake, tmp_path) as built:
        told = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.channel_id) if "confirmed" in m.content]
        )
        assert "job #1" in told[0].content and job.id in told[0].content
        assert list(openai_fake.jobs) == [job.id]
        openai_fake.advance(job.id, "succeeded")
        await built.get(JobWatcher).run_once()
        await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.channel_id) if "job #1 finished" in m.content]
        )


async def test_an_undeliverable_notice_is_given_up_without_holding_up_other_jobs(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, caplog: Any
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, training={"notice_attempts": 1}) as built:
        for suffix in ("one", "two"):
            await _confirm(discord, suffix)
        for job_id in openai_fake.jobs:
            openai_fake.advance(job_id, "succeeded")
        # The first notice meets a channel that is gone; the second is posted in the same round.
        discord.fail_next(rf"/channels/{discord.channel_id}/messages$", 404, times=1)
        with caplog.at_level("WARNING", logger="bot.finetuning.watcher"):
            await built.get(JobWatcher).run_once()
        finished = [m for m in discord.bot_messages_in(discord.channel_id) if "finished" in m.content]
        assert len(finished) == 1
        assert any("gave up posting the end of training job" in r.getMessage() for r in caplog.records)
        await built.get(JobWatcher).run_once()  # given up: not posted, not retried
        assert len([m for m in discord.bot_messages_in(discord.channel_id) if "finished" in m.content]) == 1
        assert built.get(JobWatcher)._delay() == built.get(Settings).training.watch_interval_s  # pyright: ignore[reportPrivateUsage]


async def test_an_upload_that_outlasts_the_start_grace_period_starts_no_job(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, training={"start_grace_s": 0}) as built:
        upload = openai_fake.hold_next("POST", "/files")
        data = discord.attachment("faq.jsonl", sft_lines(10), "application/jsonl")
        card = await summary(discord.slash("train", options={"data": data, "suffix": "late"}, user=discord.admin))
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        async with asyncio.timeout(15):
            await upload.arrived.wait()
        # While the upload is on its way the watcher finds the request past its grace period and gives it up.
        await built.get(JobWatcher).run_once()
        upload.release.set()
        told = said(await confirm.wait(lambda e: e.kind in ("edit", "followup")))
        assert "The upload took too long, so no job was started" in told
        assert openai_fake.jobs == {}
        assert openai_fake.files == {}  # the upload that arrived late was deleted: nothing left to pay for
        await built.get(JobWatcher).run_once()  # and nothing is started or adopted later
        assert openai_fake.jobs == {} and (await built.get(JobStore).list(discord.guild_id)).total == 0


async def test_two_clicks_on_confirm_start_one_job(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path) as built:
        upload = openai_fake.hold_next("POST", "/files")
        data = discord.attachment("faq.jsonl", sft_lines(10), "application/jsonl")
        card = await summary(discord.slash("train", options={"data": data, "suffix": "once"}, user=discord.admin))
        confirm_id = next(c for c in card.custom_ids if "confirm" in c)
        first = discord.click(card, confirm_id, user=discord.admin)
        async with asyncio.timeout(15):
            await upload.arrived.wait()  # the first click is uploading the dataset
        second = discord.click(card, confirm_id, user=discord.admin)
        assert "already handled" in said(await second.wait_callback()) and second.ephemeral
        upload.release.set()
        await first.wait(lambda e: e.kind == "edit")
        assert "Started training job #1" in card.content
        assert len(openai_fake.files) == 1 and len(openai_fake.jobs) == 1

        # Two clicks that arrive together, before either is answered.
        data = discord.attachment("faq.jsonl", sft_lines(10), "application/jsonl")
        card = await summary(discord.slash("train", options={"data": data, "suffix": "twice"}, user=discord.admin))
        confirm_id = next(c for c in card.custom_ids if "confirm" in c)
        clicks = [discord.click(card, confirm_id, user=discord.admin) for _ in range(2)]
        answers = [said(await c.wait(lambda e: e.kind == "edit" or e.type == 4)) for c in clicks]
        assert sum("already handled" in a for a in answers) == 1
        assert len(openai_fake.files) == 2 and len(openai_fake.jobs) == 2
        assert [j.payload["user_provided_suffix"] for j in openai_fake.jobs.values()] == ["once", "twice"]
        assert (await built.get(JobStore).list(discord.guild_id)).total == 2
