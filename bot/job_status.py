"""A fine-tuning job's status, as OpenAI's API names them: one type shared by the store, the bot's fine-tuning client
and the training service (which speaks the same API), with the set a job ends in and the set still on its way."""

from __future__ import annotations

from typing import Literal

JobStatus = Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
# The statuses a job ends in, and those of a job still on its way there (it may yet be cancelled).
TERMINAL: frozenset[JobStatus] = frozenset({"succeeded", "failed", "cancelled"})
ACTIVE: frozenset[JobStatus] = frozenset({"validating_files", "queued", "running"})
