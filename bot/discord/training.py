"""How training jobs look in Discord: the end-of-job notice, the summary before Confirm, the job card."""

from __future__ import annotations

import hikari

from bot import keys
from bot.store.jobs import TrainingJob
from bot.store.requests import JobRequest
from bot.training.datasets import DatasetReport

STATUS_EMOJI = {
    "validating_files": "🔎",
    "queued": "⏳",
    "running": "🏃",
    "succeeded": "✅",
    "failed": "❌",
    "cancelled": "🛑",
}


def activate_button(job_id: int) -> hikari.api.MessageActionRowBuilder:
    return hikari.impl.MessageActionRowBuilder().add_interactive_button(
        hikari.ButtonStyle.SUCCESS, keys.custom_id(keys.ACTIVATE_MODEL, job_id), label="Activate this model"
    )


def job_notice(job: TrainingJob) -> tuple[str, list[hikari.api.MessageActionRowBuilder]]:
    who = f"<@{job.requester_id}>"
    if job.status == "succeeded":
        return (
            f"✅ {who} training job #{job.id} finished: `{job.fine_tuned_model}`.\n"
            "An admin can switch this server to it now, or later with `/model use`.",
            [activate_button(job.id)],
        )
    if job.status == "failed":
        return f"❌ {who} training job #{job.id} failed: {job.error or 'no reason given'}", []
    return f"🛑 {who} training job #{job.id} was cancelled.", []


def request_notice(request: JobRequest, job: TrainingJob | None) -> str:
    """What the watcher found out about a start the training service did not confirm."""
    who = f"<@{request.requester_id}>"
    if job is not None:
        return (
            f"🚀 {who} the training service confirmed your training request: it is job #{job.id} "
            f"(`{job.remote_id}`). I'll post here when it ends; follow it with `/jobs show`."
        )
    return (
        f"⚠️ {who} the training service never started your training request (`{request.base_model}`), so nothing "
        "runs and its upload was deleted. Run `/train` again."
    )


def summary_embed(report: DatasetReport, *, method: str, base_model: str, source: str) -> hikari.Embed:
    embed = hikari.Embed(title="Ready to train", color=0x5865F2)
    embed.add_field("Data", source, inline=True)
    embed.add_field("Method", "DPO (preference pairs)" if method == "dpo" else "supervised", inline=True)
    embed.add_field("Base model", f"`{base_model}`", inline=True)
    embed.add_field("Examples", f"{report.examples:,}", inline=True)
    embed.add_field("Tokens", f"{report.total_tokens:,} (≈{report.billed_tokens_estimate:,} billed)", inline=True)
    cost = "unknown for this model" if report.estimated_cost is None else f"≈ ${report.estimated_cost:,.2f}"
    embed.add_field("Estimated cost", cost, inline=True)
    embed.set_footer(f"dataset sha256 {report.sha256[:12]}")
    return embed


def job_embed(job: TrainingJob) -> hikari.Embed:
    embed = hikari.Embed(
        title=f"Training job #{job.id}", description=f"`{job.remote_id}`", color=0x2ECC71 if job.finished else 0xF1C40F
    )
    embed.add_field("Status", f"{STATUS_EMOJI.get(job.status, '')} {job.status}", inline=True)
    embed.add_field("Method", job.method, inline=True)
    embed.add_field("Base model", f"`{job.base_model}`", inline=True)
    if job.total_steps:
        done = job.steps_done or 0
        filled = round(20 * done / job.total_steps)
        embed.add_field("Progress", f"`{'█' * filled}{'░' * (20 - filled)}` {done}/{job.total_steps} steps")
    if job.fine_tuned_model:
        embed.add_field("Model", f"`{job.fine_tuned_model}`")
    if job.error:
        embed.add_field("Error", job.error[:1024])
    embed.add_field("Examples", f"{job.dataset_examples:,}", inline=True)
    embed.add_field("Requested by", f"<@{job.requester_id}>", inline=True)
    embed.set_footer(f"started {job.created_at:%Y-%m-%d %H:%M} UTC")
    return embed
