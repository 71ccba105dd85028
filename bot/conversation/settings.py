"""Settings of voice conversations: speech detection, turn taking, addressing, barge-in and limits."""

from __future__ import annotations

from typing import Literal

import attrs

from bot.config_tables import non_negative, positive

AddressingMode = Literal["all", "name"]


@attrs.frozen
class ConversationSettings:
    """How the bot listens and answers in a voice channel (the `[conversation]` table)."""

    # Voice activity: a frame is speech when Silero VAD's speech probability reaches this...
    vad_threshold: float = attrs.field(default=0.5, validator=positive)
    # ...and it is louder than this level (dBFS); quieter frames are silence without running the model.
    vad_min_level_dbfs: float = -55.0
    # End of an utterance: this much silence after the last voiced frame.
    end_of_speech_silence_ms: int = attrs.field(default=500, validator=positive)
    # The transcription of an utterance starts speculatively after this much silence (reused if the user stays quiet).
    speculative_transcription_ms: int = attrs.field(default=40, validator=non_negative)
    # Utterances with less voiced audio than this are coughs and clicks: ignored.
    min_utterance_ms: int = attrs.field(default=300, validator=positive)
    # A monologue is cut into turns of at most this length.
    max_utterance_s: float = attrs.field(default=30.0, validator=positive)
    # Audio kept from before the first voiced frame, so soft word onsets are not clipped.
    pre_roll_ms: int = attrs.field(default=200, validator=non_negative)
    # Someone must speak this long before the bot stops talking (barge-in); shorter sounds do not interrupt.
    barge_in_min_speech_ms: int = attrs.field(default=100, validator=positive)
    # "all": every utterance is a question; "name": only those that call the bot by one of `names`.
    addressing: AddressingMode = "all"
    names: list[str] = attrs.field(factory=lambda: ["teachbot"])
    # Language passed to the transcriber and the speech engine; None detects it per utterance.
    language: str | None = None
    # The bot leaves the channel after being alone this long.
    alone_leave_s: float = attrs.field(default=120.0, validator=positive)
    # Transcriptions running at once across all guilds.
    max_concurrent_transcriptions: int = attrs.field(default=2, validator=positive)
    # Answers begun during a speaker's pauses within one utterance (0: never answer early). An early answer that was
    # dropped after it reached the model stays counted against the speaker's rate limit, so this bounds what their
    # own pauses can cost them; later pauses of that utterance wait for the end of speech.
    early_answers_per_utterance: int = attrs.field(default=2, validator=non_negative)
    # Utterances waiting for their turn in one guild; older ones are dropped beyond this.
    max_queued_utterances: int = attrs.field(default=3, validator=positive)
    # Where each turn is posted as text (with the Correct button); None posts nothing.
    transcript_channel_id: int | None = None
    # How many recent turns `/voice status` shows.
    status_turns: int = attrs.field(default=5, validator=positive)
    # Per-guild addressing ("all" or "name"), by guild id, overriding `addressing`.
    guild_addressing: dict[str, AddressingMode] = attrs.field(factory=dict[str, AddressingMode])
    # With a known `language`, transcribe only the utterance instead of Whisper's 30 s window (several times faster).
    short_window: bool = True
    # Speech starts at the answer's first clause boundary (comma, semicolon, colon, dash) once the first phrase is at
    # least this long, instead of after the whole first sentence; 0 waits for the sentence.
    first_phrase_min_chars: int = attrs.field(default=16, validator=non_negative)
    # A slow model's first phrase: when no such boundary has come `first_phrase_wait_ms` after its first text, speech
    # starts after the last complete word, once there are at least `first_phrase_words`; 0 words: always wait.
    first_phrase_words: int = attrs.field(default=3, validator=non_negative)
    first_phrase_wait_ms: int = attrs.field(default=40, validator=non_negative)
