"""`[conversation]` settings: the defaults start transcribing before a turn ends and answer everyone who speaks, and
an addressing mode or name list written wrongly is named at start-up."""

from __future__ import annotations

import pytest

from bot.config_tables import SettingsProblems, build_settings
from bot.conversation.settings import ConversationSettings


def test_by_default_transcription_starts_before_the_turn_ends_and_every_utterance_is_a_question() -> None:
    settings = ConversationSettings()
    assert settings.speculative_transcription_ms < settings.end_of_speech_silence_ms
    assert settings.min_utterance_ms < settings.max_utterance_s * 1000
    assert settings.barge_in_min_speech_ms < settings.min_utterance_ms  # a real question can always interrupt
    assert (settings.addressing, settings.names) == ("all", ["teachbot"])


def test_an_unknown_addressing_mode_or_a_single_name_instead_of_a_list_is_refused() -> None:
    with pytest.raises(SettingsProblems) as raised:
        build_settings(ConversationSettings, {"addressing": "mention", "names": "teachbot"}, "conversation")
    assert raised.value.problems == [
        "conversation.addressing: must be one of 'all', 'name', got 'mention'",
        "conversation.names: expected a list, got str",
    ]
    by_name = build_settings(ConversationSettings, {"addressing": "name", "names": ["teachbot", "tb"]}, "conversation")
    assert (by_name.addressing, by_name.names) == ("name", ["teachbot", "tb"])


def test_a_servers_addressing_mode_written_wrongly_is_refused_like_the_default_one() -> None:
    """Fails today: guild_addressing values are plain strings, so a typo silently means the default mode."""
    with pytest.raises(SettingsProblems):
        build_settings(ConversationSettings, {"guild_addressing": {"123": "names"}}, "conversation")
