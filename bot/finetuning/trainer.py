"""The Trainer interface: where fine-tuning jobs run. OpenAI's API is the first backend, not the only one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

import attrs

from bot.errors import NotFound, ServiceUnavailable
from bot.job_status import ACTIVE, TERMINAL, JobStatus
from bot.store.jobs import JobEvent

__all__ = ["ACTIVE", "TERMINAL", "JobEvent", "JobStatus"]  # the store owns these records; backends speak them too

Method = Literal["sft", "dpo"]
# The metadata key that marks a job with the training request it was started for (see bot/finetuning/starting.py).
TAG_KEY = "teachbot_request"


def upload_name(tag: str) -> str:
    """The file name a request's dataset is uploaded under, so an upload whose answer was lost can still be found."""
    return f"teachbot-{tag}.jsonl"


@attrs.frozen
class Hyperparameters:
    n_epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    beta: float | None = None  # DPO only


@attrs.frozen
class TrainingRequest:
    dataset_id: str
    base_model: str
    method: Method
    suffix: str | None = None
    hyperparameters: Hyperparameters = attrs.field(factory=Hyperparameters)


@attrs.frozen
class UploadedDataset:
    id: str
    bytes: int


@attrs.frozen
class RemoteJob:
    remote_id: str
    status: JobStatus
    base_model: str
    fine_tuned_model: str | None
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    trained_tokens: int | None
    method: Method

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


class TrainerError(ServiceUnavailable):
    """The training backend failed; the message is short and safe to show."""


class TrainerRateLimited(TrainerError):
    """The backend is rate-limiting the bot."""


class TrainerAuthFailed(TrainerError):
    """The backend rejected the bot's credentials."""


class TrainerRejected(TrainerError):
    """The backend refused the request itself (bad dataset, unknown base model, job already finished)."""


class TrainerRemoteError(TrainerError):
    """The backend erred, timed out or could not be reached; trying again later may work."""


class TrainerNotFound(TrainerError, NotFound):
    """The backend does not know this job or file."""


class Trainer(Protocol):
    """A fine-tuning backend. Jobs are listed newest first; events are returned oldest first."""

    name: str

    async def upload(self, source: Path | BinaryIO, filename: str) -> UploadedDataset:
        """Upload a dataset from a path or an open binary stream, without reading it whole into memory."""
        ...

    async def start(self, request: TrainingRequest, *, tag: str) -> RemoteJob:
        """Start a job, tagged with `tag`, and never retry on its own: a call that timed out may have started one,
        and only `find_tagged` can tell."""
        ...

    async def find_tagged(self, tag: str) -> RemoteJob | None:
        """The job started with `tag`, if the backend has one."""
        ...

    async def find_uploads(self, tag: str) -> list[str]:
        """Ids of the uploads named `upload_name(tag)` (a lost answer leaves an upload only its name finds)."""
        ...

    async def delete_upload(self, file_id: str) -> None:
        """Delete an uploaded dataset; one already gone counts as deleted."""
        ...

    async def get(self, remote_id: str) -> RemoteJob: ...

    async def list(self, limit: int = 20, after: str | None = None, *, follow: bool = False) -> list[RemoteJob]:
        """Up to `limit` jobs older than `after`, newest first; with `follow`, every later page too."""
        ...

    async def cancel(self, remote_id: str) -> RemoteJob: ...

    async def events(self, remote_id: str, after: str | None = None, limit: int | None = None) -> list[JobEvent]:
        """Events newer than `after` (all when None), oldest first; with `limit`, only the newest `limit` of them."""
        ...
