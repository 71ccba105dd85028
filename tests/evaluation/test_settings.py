"""`[evaluation]` settings: the defaults let a full-size /model test start within a server's budget, and bad values
are named at start-up."""

from __future__ import annotations

import pytest

from bot.config_tables import SettingsProblems, build_settings
from bot.evaluation.model_test import CALLS_PER_QUESTION
from bot.evaluation.settings import EvaluationSettings


def test_by_default_a_server_can_run_several_full_size_tests_a_day() -> None:
    settings = EvaluationSettings()
    full_test = settings.max_questions * CALLS_PER_QUESTION
    assert settings.budget_calls // full_test >= 2 and settings.budget_window_h == 24.0


def test_limits_must_be_positive_and_numbers_and_names_must_be_known() -> None:
    with pytest.raises(SettingsProblems) as raised:
        build_settings(EvaluationSettings, {"concurrency": 0, "max_questions": "ten", "judge": "gpt-x"}, "evaluation")
    assert raised.value.problems == [
        "evaluation.judge: unknown setting",
        "evaluation.concurrency: concurrency must be greater than 0, got 0",
        "evaluation.max_questions: expected an integer, got 'ten'",
    ]
    assert build_settings(EvaluationSettings, {"judge_model": "gpt-x"}, "evaluation").judge_model == "gpt-x"
