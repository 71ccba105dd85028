"""One Whisper model and one Silero VAD session for all conversation tests (loading each costs about a second)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.conversation.vad import SileroModel
from tests.conversation.doubles import LocalWhisper


@pytest.fixture(scope="session")
def whisper() -> Iterator[LocalWhisper]:
    model = LocalWhisper()
    yield model
    model.close()


@pytest.fixture(scope="session")
def vad_model() -> SileroModel:
    return SileroModel()
