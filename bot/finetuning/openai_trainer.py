"""The OpenAI fine-tuning backend; works with any server speaking the same API (the client's base_url)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, BinaryIO, cast

import openai
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent

from bot.finetuning.trainer import (
    TAG_KEY,
    JobEvent,
    Method,
    RemoteJob,
    TrainerAuthFailed,
    TrainerError,
    TrainerNotFound,
    TrainerRateLimited,
    TrainerRejected,
    TrainerRemoteError,
    TrainingRequest,
    UploadedDataset,
    upload_name,
)
from bot.i18n import N_, _

_log = logging.getLogger(__name__)


def _time(seconds: int | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


UNKNOWN_FILE = N_("The training service does not know that file.")
UNKNOWN_JOB = N_("The training service does not know that job.")
UNKNOWN_DATA = N_("The training service does not know that dataset or base model.")


def _error(exc: openai.OpenAIError, what: str, unknown: str) -> TrainerError:
    """The backend's failure as a short message (`what` it refused to do, the `unknown` text when it knows no such
    thing, both marked for the catalog); the raw detail goes to the log only."""
    _log.warning("fine-tuning backend: %s failed: %s: %s", what, type(exc).__name__, exc)
    if isinstance(exc, openai.NotFoundError):
        return TrainerNotFound(_(unknown))
    if isinstance(exc, openai.RateLimitError):
        return TrainerRateLimited(_("The training service is rate-limiting the bot. Try again in a minute."))
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return TrainerAuthFailed(_("The training service rejected the bot's API key. An admin needs to check it."))
    if isinstance(exc, openai.BadRequestError | openai.ConflictError | openai.UnprocessableEntityError):
        return TrainerRejected(
            _("The training service refused to {what}: {problem}", what=_(what), problem=_short(exc))
        )
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return TrainerRemoteError(_("The training service could not be reached. Try again shortly."))
    return TrainerRemoteError(_("The training service had an error. Try again shortly."))


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
    """OpenAI's fine-tuning API, at OpenAI or at any server that speaks it (the project's training service)."""

    def __init__(self, client: openai.AsyncOpenAI, *, name: str = "openai") -> None:
        self._client = client
        self.name = name  # recorded with each job: which backend it ran on

    async def upload(self, source: Path | BinaryIO, filename: str) -> UploadedDataset:
        try:
            if isinstance(source, Path):
                # The client sends the open file in 64 KiB chunks, so a big dataset is never read whole; opening a
                # local file does not block the loop.
                with open(source, "rb") as f:  # noqa: ASYNC230
                    uploaded = await self._client.files.create(file=(filename, f), purpose="fine-tune")
            else:
                # A retry resends from the start by seeking; a stream that cannot seek is sent once only.
                seekable = source.seekable()  # noqa: ASYNC240 (a stream, not a path: ruff reads the union)
                client = self._client if seekable else self._client.with_options(max_retries=0)
                uploaded = await client.files.create(file=(filename, source), purpose="fine-tune")
        except openai.OpenAIError as exc:
            raise _error(exc, N_("upload the dataset"), UNKNOWN_FILE) from exc
        return UploadedDataset(uploaded.id, uploaded.bytes)

    async def start(self, request: TrainingRequest, *, tag: str) -> RemoteJob:
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
            # No automatic retry: a creation that timed out may have started a paid job, and a retry would start a
            # second one. The tag lets find_tagged() tell what happened.
            job = await self._client.with_options(max_retries=0).fine_tuning.jobs.create(
                model=request.base_model,
                training_file=request.dataset_id,
                method=method,
                suffix=request.suffix if request.suffix else openai.omit,
                metadata={TAG_KEY: tag},
            )
        except openai.OpenAIError as exc:
            raise _error(exc, N_("start the job"), UNKNOWN_DATA) from exc
        return remote_job(job)

    async def find_tagged(self, tag: str) -> RemoteJob | None:
        try:
            # Filtered by the server; checked again here, in case a compatible server ignores the filter.
            async for job in self._client.fine_tuning.jobs.list(metadata={TAG_KEY: tag}, limit=100):
                if (job.metadata or {}).get(TAG_KEY) == tag:
                    return remote_job(job)
        except openai.OpenAIError as exc:
            raise _error(exc, N_("look for the job"), UNKNOWN_JOB) from exc
        return None

    async def find_uploads(self, tag: str) -> list[str]:
        name = upload_name(tag)
        try:
            return [f.id async for f in self._client.files.list(purpose="fine-tune") if f.filename == name]
        except openai.OpenAIError as exc:
            raise _error(exc, N_("list the uploaded files"), UNKNOWN_FILE) from exc

    async def delete_upload(self, file_id: str) -> None:
        try:
            await self._client.files.delete(file_id)
        except openai.NotFoundError:
            return
        except openai.OpenAIError as exc:
            raise _error(exc, N_("delete the uploaded dataset"), UNKNOWN_FILE) from exc

    async def get(self, remote_id: str) -> RemoteJob:
        try:
            return remote_job(await self._client.fine_tuning.jobs.retrieve(remote_id))
        except openai.OpenAIError as exc:
            raise _error(exc, N_("look up the job"), UNKNOWN_JOB) from exc

    async def list(self, limit: int = 20, after: str | None = None, *, follow: bool = False) -> list[RemoteJob]:
        jobs: list[RemoteJob] = []
        try:
            while True:
                page = await self._client.fine_tuning.jobs.list(limit=limit, after=after if after else openai.omit)
                jobs.extend(remote_job(j) for j in page.data)
                if not follow or not page.has_more or not page.data:
                    return jobs
                after = page.data[-1].id
        except openai.OpenAIError as exc:
            raise _error(exc, N_("list the jobs"), UNKNOWN_JOB) from exc

    async def cancel(self, remote_id: str) -> RemoteJob:
        try:
            return remote_job(await self._client.fine_tuning.jobs.cancel(remote_id))
        except openai.OpenAIError as exc:
            raise _error(exc, N_("cancel the job"), UNKNOWN_JOB) from exc

    async def events(self, remote_id: str, after: str | None = None, limit: int | None = None) -> list[JobEvent]:
        """Events newer than `after`, oldest first. The API lists newest first, so pages are read back to `after`
        (or until `limit` events were seen)."""
        newest_first: list[JobEvent] = []
        page_size = 100 if limit is None else max(1, min(limit, 100))
        try:
            page = await self._client.fine_tuning.jobs.list_events(remote_id, limit=page_size)
            while True:
                for event in page.data:
                    if event.id == after or (limit is not None and len(newest_first) >= limit):
                        return newest_first[::-1]
                    newest_first.append(job_event(remote_id, event))
                if not page.has_more or not page.data:
                    break
                page = await self._client.fine_tuning.jobs.list_events(
                    remote_id, limit=page_size, after=page.data[-1].id
                )
        except openai.OpenAIError as exc:
            raise _error(exc, N_("read the job's events"), UNKNOWN_JOB) from exc
        return newest_first[::-1]
