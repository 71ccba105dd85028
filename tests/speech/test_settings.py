"""`[speech]` settings: every language with a neural voice can also be spoken offline, each default voice is one
the engine has, and an engine the bot lacks or a zero size is named at start-up."""

from __future__ import annotations

import pytest

from bot.config_tables import SettingsProblems, build_settings
from bot.speech.settings import EDGE_VOICES, ESPEAK_VOICES, SpeechSettings


def test_the_offline_engine_speaks_every_language_the_neural_one_does() -> None:
    assert set(ESPEAK_VOICES) == set(EDGE_VOICES)
    settings = SpeechSettings()
    assert settings.edge_default_voice == settings.edge_voices["en"]
    assert all(voice.startswith(f"{language}-") for language, voice in EDGE_VOICES.items())  # voice fits its language


def test_by_default_speech_runs_on_the_cpu_one_transcription_at_a_time() -> None:
    settings = SpeechSettings()
    assert (settings.engine, settings.device, settings.max_concurrent) == ("edge", "cpu", 1)
    assert settings.max_queued >= settings.max_concurrent


def test_an_engine_the_bot_lacks_or_a_zero_size_is_refused() -> None:
    with pytest.raises(SettingsProblems) as raised:
        build_settings(SpeechSettings, {"engine": "piper", "max_audio_mb": 0}, "speech")
    assert raised.value.problems == [
        "speech.max_audio_mb: max_audio_mb must be greater than 0, got 0.0",
        "speech.engine: must be one of 'edge', 'openai', 'espeak', got 'piper'",
    ]
