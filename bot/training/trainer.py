"""The Trainer interface: where fine-tuning jobs run. OpenAI's API is the first backend, not the only one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal, Protocol

import attrs

from bot.errors import NotFound, ServiceUnavailable

Method = Literal["sft", "dpo"]
Status = Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


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
    status: Status
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


@attrs.frozen
class JobEvent:
    remote_id: str
    event_id: str
    created_at: dt.datetime
    level: str
    message: str
    kind: Literal["message", "metrics"]
    step: int | None = None
    total_steps: int | None = None
    train_loss: float | None = None
    valid_loss: float | None = None


class TrainerError(ServiceUnavailable):
    """The training backend failed; the message is short and safe to show."""


class TrainerNotFound(NotFound):
    """The backend does not know this job or file."""


class Trainer(Protocol):
    name: str

    async def upload(self, path: Path, filename: str) -> UploadedDataset: ...

    async def start(self, request: TrainingRequest) -> RemoteJob: ...

    async def get(self, remote_id: str) -> RemoteJob: ...

    async def list(self, limit: int = 20, after: str | None = None) -> list[RemoteJob]: ...

    async def cancel(self, remote_id: str) -> RemoteJob: ...

    async def events(self, remote_id: str, after: str | None = None) -> list[JobEvent]:
        """Events newer than `after`, oldest first."""
        ...
