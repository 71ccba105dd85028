"""A job's status is either on its way or ended, never both, so /jobs, cancelling and the training service's sweep
agree on which jobs still run."""

from __future__ import annotations

from typing import get_args

from bot.job_status import ACTIVE, TERMINAL, JobStatus


def test_every_status_is_active_or_terminal_and_none_is_both() -> None:
    assert set(get_args(JobStatus)) == ACTIVE | TERMINAL
    assert not ACTIVE & TERMINAL


def test_a_job_ends_succeeded_failed_or_cancelled_and_runs_until_then() -> None:
    assert {"succeeded", "failed", "cancelled"} == TERMINAL
    assert {"validating_files", "queued", "running"} == ACTIVE
