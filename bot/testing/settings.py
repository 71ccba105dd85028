"""Settings of /model test: the judge model and how many model calls a test makes at once."""

from __future__ import annotations

import attrs

from bot.config_tables import positive


@attrs.frozen
class TestingSettings:
    __test__ = False  # a product word, not a pytest class

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
