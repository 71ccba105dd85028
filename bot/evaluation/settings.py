"""Settings of /model test: the judge model, how many model calls a test makes at once, and its cost ceiling."""

from __future__ import annotations

import attrs

from bot.config_tables import positive


@attrs.frozen
class EvaluationSettings:
    # Grades each answer against the community's corrected answer with a fixed rubric.
    judge_model: str = "gpt-6-luna"
    # Model calls (answers and grading) a test makes at once; tests never use members' rate limits.
    concurrency: int = attrs.field(default=16, validator=positive)
    answer_timeout_s: float = attrs.field(default=60.0, validator=positive)
    judge_timeout_s: float = attrs.field(default=60.0, validator=positive)
    max_questions: int = attrs.field(default=100, validator=positive)
    # The "12/40 graded" message is edited at most this often.
    progress_interval_s: float = attrs.field(default=2.0, validator=positive)
    # The test of a finished training job is given up after this long (its notice then says so).
    job_test_timeout_s: float = attrs.field(default=900.0, validator=positive)
    # /model test's cost ceiling. Admins' tests running at once in this process, across every server (each server
    # runs one at a time)...
    max_running: int = attrs.field(default=2, validator=positive)
    # ...and the model calls (answers and grading) a server's tests may make in `budget_window_h` hours. A test
    # reserves its most possible calls (4 per question) before it starts, and is refused when they do not fit.
    budget_calls: int = attrs.field(default=2000, validator=positive)
    budget_window_h: float = attrs.field(default=24.0, validator=positive)
    # An admin's test is stopped after this long; a test shown as running for longer was left by a stopped bot and
    # no longer keeps the server from starting another.
    max_run_s: float = attrs.field(default=1800.0, validator=positive)
