"""`[llm]` settings: which models take pictures (their snapshots and fine-tunes too), whose thinking is shown, that
the default model is one an admin can switch back to, and that wrong values are named at start-up."""

from __future__ import annotations

import pytest

from bot.config_tables import SettingsProblems, build_settings
from bot.llm.settings import LLMSettings


def test_the_default_model_is_offered_in_model_use_and_takes_pictures() -> None:
    settings = LLMSettings()
    assert settings.default_model in settings.models
    assert settings.takes_images(settings.default_model)


def test_a_listed_vision_models_snapshots_and_fine_tunes_take_pictures_too() -> None:
    settings = LLMSettings(vision_models=["gpt-4o-mini"])
    assert settings.takes_images("gpt-4o-mini")
    assert settings.takes_images("gpt-4o-mini-2024-07-18")
    assert settings.takes_images("ft:gpt-4o-mini-2024-07-18:acme:support:abc123")
    assert not settings.takes_images("gpt-4o")
    assert not settings.takes_images("ft:gpt-4o:acme:support:abc123")
    assert not settings.takes_images("my-gpt-4o-mini")


def test_thinking_is_hidden_unless_a_model_is_set_to_show_it_under_a_spoiler() -> None:
    settings = LLMSettings(reasoning={"o3": "spoiler", "o4-mini": "hide"})
    assert settings.shows_thinking("o3")
    assert not settings.shows_thinking("o4-mini") and not settings.shows_thinking("gpt-6-luna")


def test_an_unknown_field_name_mode_or_date_is_named_at_start_up() -> None:
    with pytest.raises(SettingsProblems) as raised:
        build_settings(
            LLMSettings,
            {"shutdowns": {"gpt-x": "next year"}, "reasoning": {"o3": "show"}, "tokens_field": "max_output_tokens"},
            "llm",
        )
    assert raised.value.problems == [
        "llm.tokens_field: must be one of 'max_completion_tokens', 'max_tokens', got 'max_output_tokens'",
        "llm.reasoning.o3: must be one of 'hide', 'spoiler', got 'show'",
        "llm.shutdowns: shutdowns: 'gpt-x' needs a date like 2027-01-14, got 'next year'",
    ]
