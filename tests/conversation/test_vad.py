"""Voice activity: the speech fixtures are speech; silence, hum and noise are not."""

from __future__ import annotations

import numpy as np
import pytest

from bot.conversation.vad import SileroModel, VoiceActivityDetector
from tests.conversation.doubles import load_fixture


def voiced_fraction(model: SileroModel, samples: np.ndarray) -> float:
    vad = VoiceActivityDetector(model)
    frames = [samples[i : i + 320] for i in range(0, len(samples) - 319, 320)]
    return sum(vad.is_speech(f) for f in frames) / len(frames)


@pytest.mark.parametrize("name", ["capital_of_france", "weather_question"])
def test_speech_fixture_is_mostly_voiced(vad_model: SileroModel, name: str) -> None:
    assert voiced_fraction(vad_model, load_fixture(name)) > 0.6


def test_silence_noise_and_hum_are_not_speech(vad_model: SileroModel) -> None:
    rng = np.random.default_rng(7)
    t = np.arange(32_000) / 16_000
    cases = {
        "silence": np.zeros(32_000, np.float32),
        "white noise": (rng.standard_normal(32_000) * 0.05).astype(np.float32),
        "mains hum": (0.2 * np.sin(2 * np.pi * 50 * t)).astype(np.float32),
    }
    for label, samples in cases.items():
        assert voiced_fraction(vad_model, samples) < 0.05, label
