"""How training jobs look in Discord: the end-of-job notice in the server's language (fitting one message whatever
the error), the job card and list, the summary before Confirm, and which jobs an Activate button may name."""

from __future__ import annotations

import itertools

import attrs
import hikari
import pytest

from bot.discord.training import JobAnnouncer, finished_job, job_embed, job_notice, jobs_page, summary_embed
from bot.errors import InvalidInput, NotFound
from bot.finetuning.training_files import DatasetReport
from bot.job_status import JobStatus
from bot.store.database import Database
from bot.store.jobs import JobStore, TrainingJob
from bot.store.model_tests import ModelTestStore
from tests.store.test_jobs import event, new, remote

MODEL = "ft:gpt-4o-mini:org:ours:1"
REMOTE_IDS = itertools.count()


async def ended(jobs: JobStore, status: JobStatus, *, error: str | None = None, guild: int = 5) -> TrainingJob:
    job = await jobs.add(new(guild=guild, remote=f"ftjob-{next(REMOTE_IDS)}", status="running"))
    state = attrs.evolve(remote(status, MODEL if status == "succeeded" else None), error=error)
    return await jobs.update_from_remote(job.id, state)


def fields(embed: hikari.Embed) -> dict[str, str]:
    return {f.name: f.value for f in embed.fields}


async def test_a_finished_job_is_announced_with_its_model_and_an_activate_button(db: Database) -> None:
    job = await ended(JobStore(db), "succeeded")
    content, (row,) = job_notice(job, "🧪 Test: 8/10.")
    assert content == (
        f"✅ <@20> training job #{job.id} finished: `{MODEL}`.\n🧪 Test: 8/10.\n"
        "An admin can switch this server to it now, or later with `/model use`."
    )
    (button,) = row.components
    assert button.build()[0]["custom_id"].endswith(str(job.id))  # type: ignore[attr-defined]


async def test_a_failed_job_says_why_in_one_message_however_long_the_error(db: Database) -> None:
    jobs = JobStore(db)
    short = await ended(jobs, "failed", error="CUDA out of memory")
    assert job_notice(short) == (f"❌ <@20> training job #{short.id} failed: CUDA out of memory", [])
    traceback = await ended(jobs, "failed", error="Traceback (most recent call last):\n" + "  frame\n" * 1000)
    content, components = job_notice(traceback)
    assert len(content) <= 2000 and content.startswith(f"❌ <@20> training job #{traceback.id} failed: Traceback")
    assert components == []
    silent = await ended(jobs, "failed")
    assert job_notice(silent)[0].endswith("failed: no reason given")
    cancelled = await ended(jobs, "cancelled")
    assert job_notice(cancelled) == (f"🛑 <@20> training job #{cancelled.id} was cancelled.", [])


class Rest:
    """Discord's REST side as the announcer uses it: the server's locale, and the message posted."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.posted: list[tuple[int, str, object]] = []

    async def fetch_guild(self, guild_id: int) -> object:
        return attrs.make_class("Guild", {"preferred_locale": attrs.field(default=self.locale)})()

    async def create_message(self, channel: int, content: str, **options: object) -> None:
        self.posted.append((channel, content, options["user_mentions"]))


async def test_the_announcement_goes_to_the_jobs_channel_in_the_servers_language_pinging_only_the_requester(
    db: Database,
) -> None:
    job = await ended(JobStore(db), "succeeded")
    rest = Rest("ru")
    await JobAnnouncer(rest, ModelTestStore(db)).job_ended(job)  # type: ignore[arg-type]
    ((channel, content, mentions),) = rest.posted
    assert (channel, mentions) == (10, [20])
    assert content.startswith(f"✅ <@20> задача обучения #{job.id} завершена: `{MODEL}`.")
    assert content.endswith("Админ может переключить сервер на неё сейчас или позже через `/model use`.")
    assert "`/model test`" in content  # no test result: it says to run one before activating


async def test_the_job_card_shows_status_progress_and_who_asked(db: Database) -> None:
    jobs = JobStore(db)
    job = await jobs.add(new(status="running"))
    await jobs.add_events(job.id, [event(1, step=5, loss=1.2)])
    running = await jobs.get(job.id)
    assert running is not None
    card = fields(job_embed(running))
    assert card["Status"] == "🏃 running"
    assert card["Progress"] == f"`{'█' * 10}{'░' * 10}` 5/10 steps"
    assert card["Requested by"] == "<@20>" and card["Base model"] == "`gpt-4o-mini`"
    assert "Model" not in card and "Error" not in card


async def test_the_jobs_list_shows_this_servers_jobs_or_says_there_are_none(db: Database) -> None:
    jobs = JobStore(db)
    empty, _ = await jobs_page(jobs, 5, 0)
    assert empty.description == "No training jobs yet."
    done = await ended(jobs, "succeeded")
    await ended(jobs, "failed", guild=6)
    listed, _ = await jobs_page(jobs, 5, 0)
    assert listed.description == f"✅ **#{done.id}** succeeded · `{MODEL}` · sft · <@20>"


async def test_an_activate_button_names_only_this_servers_succeeded_jobs(db: Database) -> None:
    jobs = JobStore(db)
    done, failed = await ended(jobs, "succeeded"), await ended(jobs, "failed")
    theirs = await ended(jobs, "succeeded", guild=6)
    assert (await finished_job(jobs, 5, str(done.id))).fine_tuned_model == MODEL
    with pytest.raises(InvalidInput, match=rf"Job #{failed.id} has no finished model to activate\."):
        await finished_job(jobs, 5, str(failed.id))
    with pytest.raises(NotFound, match=rf"There is no training job #{theirs.id} in this server\."):
        await finished_job(jobs, 5, str(theirs.id))


def test_the_summary_before_confirm_shows_the_data_and_its_cost() -> None:
    report = DatasetReport(
        kind="sft",
        examples=1200,
        total_tokens=450_000,
        billed_tokens_estimate=1_350_000,
        estimated_cost=4.05,
        errors=[],
        more_errors=0,
        sha256="ab" * 32,
    )
    summary = summary_embed(report, method="sft", base_model="gpt-4o-mini", source="uploaded file")
    shown = fields(summary)
    assert shown["Where"] == "OpenAI fine-tuning" and shown["Method"] == "supervised"
    assert (shown["Examples"], shown["Tokens"]) == ("1,200", "450,000 (≈1,350,000 billed)")
    assert shown["Estimated cost"] == "≈ $4.05"
    assert summary.footer is not None and summary.footer.text == "dataset sha256 abababababab"
    unpriced = attrs.evolve(report, estimated_cost=None)
    elsewhere = fields(summary_embed(unpriced, method="dpo", base_model="m", source="s", backend="gpu-farm"))
    assert elsewhere["Where"] == "gpu-farm" and elsewhere["Method"] == "DPO (preference pairs)"
    assert elsewhere["Estimated cost"] == "unknown for this model"
