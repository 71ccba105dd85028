"""Speech settings: what audio is accepted, how Whisper runs, which speech engine talks."""

from __future__ import annotations

from typing import Literal

import attrs

from bot.config_tables import positive

# The languages Whisper most often detects in Discord communities, and a voice for each.
EDGE_VOICES = {
    "en": "en-US-AriaNeural",
    "fr": "fr-FR-DeniseNeural",
    "de": "de-DE-KatjaNeural",
    "ru": "ru-RU-SvetlanaNeural",
    "es": "es-ES-ElviraNeural",
    "it": "it-IT-ElsaNeural",
    "pt": "pt-BR-FranciscaNeural",
    "pl": "pl-PL-ZofiaNeural",
    "uk": "uk-UA-PolinaNeural",
    "nl": "nl-NL-ColetteNeural",
    "tr": "tr-TR-EmelNeural",
    "ja": "ja-JP-NanamiNeural",
    "zh": "zh-CN-XiaoxiaoNeural",
    "ko": "ko-KR-SunHiNeural",
    "ar": "ar-SA-ZariyahNeural",
    "hi": "hi-IN-SwaraNeural",
}
ESPEAK_VOICES = {
    "en": "en-us",
    "fr": "fr-fr",
    "de": "de",
    "ru": "ru",
    "es": "es",
    "it": "it",
    "pt": "pt-br",
    "pl": "pl",
    "uk": "uk",
    "nl": "nl",
    "tr": "tr",
    "ja": "ja",
    "zh": "cmn",
    "ko": "ko",
    "ar": "ar",
    "hi": "hi",
}


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
    # Voices by language code: the voice follows the language the answer is written in.
    edge_voices: dict[str, str] = attrs.field(factory=lambda: dict(EDGE_VOICES))
    edge_default_voice: str = "en-US-AriaNeural"
    # Only for tests and self-hosted relays: another websocket endpoint speaking edge-tts's protocol.
    edge_endpoint: str | None = None
    openai_model: str = "tts-1"
    openai_voice: str = "alloy"
    espeak_voices: dict[str, str] = attrs.field(factory=lambda: dict(ESPEAK_VOICES))
    max_speech_chars: int = attrs.field(default=1500, validator=positive)
