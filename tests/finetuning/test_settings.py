"""`[training]` settings are checked at start-up, so a job is never refused for them after its data was uploaded:
epochs both backends accept, real dates, known backend kinds and web addresses, and a held-out share below one."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config_tables import SettingsProblems, build_settings
from bot.finetuning.settings import TrainingSettings


def problems(table: dict[str, Any]) -> list[str]:
    with pytest.raises(SettingsProblems) as raised:
        build_settings(TrainingSettings, table, "training")
    return raised.value.problems


def test_the_defaults_train_on_openai_until_its_announced_end_and_hold_out_a_test_set() -> None:
    settings = TrainingSettings()
    assert (settings.backend, settings.openai_new_jobs_until, settings.epochs) == ("openai", "2027-01-06", 3)
    assert (settings.held_out_share, settings.held_out_min) == (0.1, 5)


def test_epochs_outside_what_the_backends_accept_are_refused_at_start_up() -> None:
    assert build_settings(TrainingSettings, {"epochs": 50}, "training").epochs == 50
    assert problems({"epochs": 0}) == [
        "training.epochs: epochs must be from 1 to 50 (what the training backends accept), got 0"
    ]
    assert problems({"epochs": 51})[0].endswith("got 51")


def test_dates_must_be_written_as_dates() -> None:
    assert problems({"openai_new_jobs_until": "soon"}) == [
        "training.openai_new_jobs_until: openai_new_jobs_until must be a date like 2027-01-06, got 'soon'"
    ]
    assert problems({"backends": {"gpu": {"kind": "local", "new_jobs_until": "2027-13-01"}}}) == [
        "training.backends.gpu.new_jobs_until: new_jobs_until must be a date like 2027-01-06, got '2027-13-01'"
    ]


def test_a_backend_table_names_a_known_kind_and_a_web_address() -> None:
    gpu = build_settings(
        TrainingSettings,
        {"backends": {"gpu": {"kind": "local", "base_url": "http://10.0.0.5:8600/v1", "base_models": ["qwen"]}}},
        "training",
    ).backends["gpu"]
    assert (gpu.kind, gpu.base_url, gpu.base_models, gpu.key_env) == (
        "local",
        "http://10.0.0.5:8600/v1",
        ["qwen"],
        None,
    )
    assert problems({"backends": {"gpu": {"kind": "tpu"}}}) == [
        "training.backends.gpu.kind: must be one of 'openai', 'azure', 'local', got 'tpu'"
    ]
    assert problems({"backends": {"gpu": {"kind": "local", "base_url": "ftp://x"}}}) == [
        "training.backends.gpu.base_url: base_url must start with http:// or https://, got 'ftp://x'"
    ]


def test_secrets_are_named_by_environment_variable_never_written_in_the_file() -> None:
    assert problems({"backends": {"gpu": {"kind": "local", "api_key": "sk-1"}}}) == [
        "training.backends.gpu.api_key: unknown setting"
    ]


def test_all_corrections_can_never_be_held_out() -> None:
    (problem,) = problems({"held_out_share": 1.0})
    assert problem.startswith("training.held_out_share: ") and "1.0" in problem
    assert problems({"held_out_share": -0.1})[0].startswith("training.held_out_share: ")
