"""Speech settings: what audio is accepted, how Whisper runs, which speech engine talks."""

from __future__ import annotations

from typing import Literal

import attrs

from bot.config_tables import positive


@attrs.frozen
class SpeechSettings:
    max_audio_mb: float = attrs.field(default=25.0, validator=positive)
    max_duration_s: float = attrs.field(default=300.0, validator=positive)
    # faster-whisper: a model name ("base", "small", …; downloaded on first use) or a local model directory.
    whisper_model: str = "base"
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = attrs.field(default=2, validator=positive)
    # Transcriptions running at once, shared by audio messages and voice channels.
    max_concurrent: int = attrs.field(default=1, validator=positive)
    # Audio messages waiting for (or in) transcription; past this a new one is told to try again, not queued.
    max_queued: int = attrs.field(default=8, validator=positive)
    # None detects the language; a code ("en", "fr") fixes it. Per-guild overrides by guild id.
    language: str | None = None
    guild_languages: dict[str, str] = attrs.field(factory=dict[str, str])
    vad_filter: bool = True
    # Segments Whisper itself thinks are probably not speech are dropped (its known silence hallucinations).
    no_speech_threshold: float = attrs.field(default=0.6, validator=positive)
    engine: Literal["edge", "openai", "espeak"] = "edge"
    edge_voices: dict[str, str] = attrs.field(
        factory=lambda: {"en": "en-US-AriaNeural", "fr": "fr-FR-DeniseNeural", "de": "de-DE-KatjaNeural"}
    )
    edge_default_voice: str = "en-US-AriaNeural"
    # Only for tests and self-hosted relays: another websocket endpoint speaking edge-tts's protocol.
    edge_endpoint: str | None = None
    openai_model: str = "tts-1"
    openai_voice: str = "alloy"
    espeak_voices: dict[str, str] = attrs.field(factory=lambda: {"en": "en-us"})
    max_speech_chars: int = attrs.field(default=1500, validator=positive)
