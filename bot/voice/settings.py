"""Settings of the Discord voice driver: preferred encryption, jitter buffer, watchdog and player pacing."""

from __future__ import annotations

from typing import Literal

import attrs

from bot.config_tables import positive

EncryptionMode = Literal["aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize"]


@attrs.frozen
class VoiceSettings:
    """How the voice driver connects, sends and receives."""

    # AES-GCM is preferred when the server offers it (hardware accelerated); xchacha20 is the mandatory fallback.
    preferred_mode: EncryptionMode = "aead_aes256_gcm_rtpsize"
    # Frames held per speaker before playout: enough to reorder a few late packets, little enough for conversation.
    jitter_frames: int = attrs.field(default=3, validator=positive)
    # Most frames one speaker may queue before the oldest are dropped (bounded memory when nobody reads).
    max_queued_frames: int = attrs.field(default=250, validator=positive)
    # A speaker who sent nothing for this long has stopped speaking.
    speaker_idle_ms: int = attrs.field(default=200, validator=positive)
    # Silence frames sent after audio so decoders do not interpolate across the gap (Discord's documented 5).
    trailing_silence_frames: int = attrs.field(default=5, validator=positive)
    # Without a heartbeat ack or any UDP for this long, the socket is dead and the watchdog reconnects.
    watchdog_s: float = attrs.field(default=15.0, validator=positive)
    # How many times one disconnect is retried before the session gives up and reports it.
    max_reconnects: int = attrs.field(default=5, validator=positive)
    # Frames are handed to the sender thread this early, so a busy event loop does not delay them.
    send_lead_ms: int = attrs.field(default=60, validator=positive)
    # hikari always says wss://; a loopback test voice server speaks plain ws. Never enable this for Discord.
    plain_ws_on_loopback: bool = False
    # Seconds to wait for READY / SESSION_DESCRIPTION before the connection attempt fails.
    handshake_timeout_s: float = attrs.field(default=10.0, validator=positive)
    # Voice channels this process talks in at once (each costs transcription and a UDP socket); more are refused.
    max_sessions: int = attrs.field(default=8, validator=positive)
    # A UDP keepalive this often (discord.js and songbird: 5 s), or Discord stops sending audio to a silent bot.
    udp_keepalive_s: float = attrs.field(default=5.0, validator=positive)
    # Seconds to wait for the answer to UDP IP discovery before the attempt is retried.
    ip_discovery_timeout_s: float = attrs.field(default=5.0, validator=positive)
    # First wait before retrying a failed connection attempt; doubled for each further failure (at most 30 s).
    reconnect_backoff_s: float = attrs.field(default=1.0, validator=positive)
    # DAVE frames that may fail to decrypt in a row, with the group settled, before the bot re-keys (discord.js: 36).
    dave_failure_limit: int = attrs.field(default=36, validator=positive)
    # At most one DAVE re-initialisation (or rejoin) this often; also how long one may take before failures count.
    dave_recovery_cooldown_s: float = attrs.field(default=10.0, validator=positive)
