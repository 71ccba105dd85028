"""The OpenAI fine-tuning backend; works with any server speaking the same API (the client's base_url)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, cast

import openai
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent

from bot.training.trainer import (
    JobEvent,
    Method,
    RemoteJob,
    TrainerError,
    TrainerNotFound,
    TrainingRequest,
    UploadedDataset,
)

_log = logging.getLogger(__name__)


def _time(seconds: int | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


def _error(exc: openai.OpenAIError, what: str) -> Exception:
    _log.warning("fine-tuning backend: %s failed: %s: %s", what, type(exc).__name__, exc)
    if isinstance(exc, openai.NotFoundError):
        return TrainerNotFound(f"The training service does not know that {what.split(maxsplit=1)[0]}.")
    if isinstance(exc, openai.RateLimitError):
        return TrainerError("The training service is rate-limiting the bot. Try again in a minute.")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return TrainerError("The training service rejected the bot's API key. An admin needs to check it.")
    if isinstance(exc, openai.BadRequestError):
        return TrainerError(f"The training service refused to {what}: {_short(exc)}")
    return TrainerError("The training service had an error. Try again shortly.")


def _short(exc: openai.APIStatusError) -> str:
    body: Any = exc.body
    message: Any = cast(dict[str, Any], body).get("message") if isinstance(body, dict) else None
    text = str(message or "invalid request")
    return text if len(text) <= 300 else text[:299] + "…"


def remote_job(job: FineTuningJob) -> RemoteJob:
    method: Method = "dpo" if job.method is not None and job.method.type == "dpo" else "sft"
    return RemoteJob(
        remote_id=job.id,
        status=job.status,
        base_model=job.model,
        fine_tuned_model=job.fine_tuned_model,
        error=job.error.message if job.error is not None and job.error.message else None,
        created_at=_time(job.created_at) or dt.datetime.now(dt.UTC),
        finished_at=_time(job.finished_at),
        trained_tokens=job.trained_tokens,
        method=method,
    )


def job_event(remote_id: str, event: FineTuningJobEvent) -> JobEvent:
    raw: Any = event.data
    data: dict[str, Any] = cast(dict[str, Any], raw) if isinstance(raw, dict) else {}

    def number(key: str) -> float | None:
        value = data.get(key)
        return float(value) if isinstance(value, int | float) else None

    step, total = number("step"), number("total_steps")
    return JobEvent(
        remote_id=remote_id,
        event_id=event.id,
        created_at=_time(event.created_at) or dt.datetime.now(dt.UTC),
        level=event.level,
        message=event.message,
        kind="metrics" if event.type == "metrics" else "message",
        step=int(step) if step is not None else None,
        total_steps=int(total) if total is not None else None,
        train_loss=number("train_loss"),
        valid_loss=number("valid_loss"),
    )


class OpenAITrainer:
    name = "openai"

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self._client = client

    async def upload(self, path: Path, filename: str) -> UploadedDataset:
        try:
            # The client streams the open file; it is never read whole here. Opening a local file does not block.
            with open(path, "rb") as f:  # noqa: ASYNC230
                uploaded = await self._client.files.create(file=(filename, f), purpose="fine-tune")
        except openai.OpenAIError as exc:
            raise _error(exc, "upload the dataset") from exc
        return UploadedDataset(uploaded.id, uploaded.bytes)

    async def start(self, request: TrainingRequest) -> RemoteJob:
        h = request.hyperparameters
        hyper: dict[str, Any] = {
            k: v
            for k, v in {
                "n_epochs": h.n_epochs,
                "batch_size": h.batch_size,
                "learning_rate_multiplier": h.learning_rate_multiplier,
            }.items()
            if v is not None
        }
        if request.method == "dpo":
            if h.beta is not None:
                hyper["beta"] = h.beta
            method: Any = {"type": "dpo", "dpo": {"hyperparameters": hyper}}
        else:
            method = {"type": "supervised", "supervised": {"hyperparameters": hyper}}
        try:
            job = await self._client.fine_tuning.jobs.create(
                model=request.base_model,
                training_file=request.dataset_id,
                method=method,
                suffix=request.suffix if request.suffix else openai.omit,
            )
        except openai.OpenAIError as exc:
            raise _error(exc, "start the job") from exc
        return remote_job(job)

    async def get(self, remote_id: str) -> RemoteJob:
        try:
            return remote_job(await self._client.fine_tuning.jobs.retrieve(remote_id))
        except openai.OpenAIError as exc:
            raise _error(exc, "job") from exc

    async def list(self, limit: int = 20, after: str | None = None) -> list[RemoteJob]:
        try:
            page = await self._client.fine_tuning.jobs.list(limit=limit, after=after if after else openai.omit)
        except openai.OpenAIError as exc:
            raise _error(exc, "list jobs") from exc
        return [remote_job(j) for j in page.data]

    async def cancel(self, remote_id: str) -> RemoteJob:
        try:
            return remote_job(await self._client.fine_tuning.jobs.cancel(remote_id))
        except openai.OpenAIError as exc:
            raise _error(exc, "cancel the job") from exc

    async def events(self, remote_id: str, after: str | None = None) -> list[JobEvent]:
        """Events newer than `after`, oldest first. The API lists newest first, so pages are read until `after`."""
        newest_first: list[JobEvent] = []
        try:
            page = await self._client.fine_tuning.jobs.list_events(remote_id, limit=100)
            while True:
                for event in page.data:
                    if event.id == after:
                        return newest_first[::-1]
                    newest_first.append(job_event(remote_id, event))
                if not page.has_more or not page.data:
                    break
                page = await self._client.fine_tuning.jobs.list_events(remote_id, limit=100, after=page.data[-1].id)
        except openai.OpenAIError as exc:
            raise _error(exc, "job events") from exc
        return newest_first[::-1]
