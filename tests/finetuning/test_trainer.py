"""What every training backend speaks: its failures reach the member as their short message (never an error id
for a backend's refusal), a job the backend lost reads as not found, and uploads are named after their request."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.discord.errors import describe_error
from bot.errors import NotFound, ServiceUnavailable
from bot.finetuning.trainer import (
    RemoteJob,
    TrainerAuthFailed,
    TrainerError,
    TrainerNotFound,
    TrainerRateLimited,
    TrainerRejected,
    TrainerRemoteError,
    upload_name,
)


@pytest.mark.parametrize(
    "error", [TrainerRateLimited, TrainerAuthFailed, TrainerRejected, TrainerRemoteError, TrainerNotFound]
)
def test_a_backends_failure_is_shown_as_its_own_short_message(error: type[TrainerError]) -> None:
    failure = error("The training backend is busy; try again in a minute.")
    assert isinstance(failure, ServiceUnavailable)
    assert describe_error(failure, "train") == "The training backend is busy; try again in a minute."


def test_a_job_or_file_the_backend_does_not_know_is_not_found() -> None:
    assert isinstance(TrainerNotFound("No job ftjob-x."), NotFound)
    assert not isinstance(TrainerRemoteError("timeout"), NotFound)


def test_an_upload_is_named_after_its_request_so_a_lost_one_can_be_found() -> None:
    assert upload_name("req-42") == "teachbot-req-42.jsonl"


@pytest.mark.parametrize(
    ("status", "finished"),
    [
        ("validating_files", False),
        ("queued", False),
        ("running", False),
        ("succeeded", True),
        ("failed", True),
        ("cancelled", True),
    ],
)
def test_a_remote_job_is_finished_once_it_succeeded_failed_or_was_cancelled(status: str, finished: bool) -> None:
    job = RemoteJob(
        remote_id="ftjob-1",
        status=status,  # type: ignore[arg-type]
        base_model="gpt-4o-mini",
        fine_tuned_model=None,
        error=None,
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        finished_at=None,
        trained_tokens=None,
        method="sft",
    )
    assert job.finished is finished
