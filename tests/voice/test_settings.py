"""`[voice]` settings: the defaults prefer AES-GCM with the mandatory fallback allowed, keep a silent connection
alive well inside the watchdog's patience, and bad values are named at start-up."""

from __future__ import annotations

import pytest

from bot.config_tables import SettingsProblems, build_settings
from bot.voice.settings import VoiceSettings


def test_the_defaults_keep_a_silent_connection_alive_before_the_watchdog_gives_up_on_it() -> None:
    settings = VoiceSettings()
    assert settings.preferred_mode == "aead_aes256_gcm_rtpsize"
    assert settings.udp_keepalive_s * 2 <= settings.watchdog_s
    assert not settings.plain_ws_on_loopback  # Discord is only ever spoken to over wss://


def test_an_encryption_mode_discord_dropped_and_zero_sizes_are_refused() -> None:
    with pytest.raises(SettingsProblems) as raised:
        build_settings(VoiceSettings, {"preferred_mode": "xsalsa20_poly1305", "jitter_frames": 0}, "voice")
    assert raised.value.problems == [
        "voice.preferred_mode: must be one of 'aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize', "
        "got 'xsalsa20_poly1305'",
        "voice.jitter_frames: jitter_frames must be greater than 0, got 0",
    ]
    fallback = build_settings(VoiceSettings, {"preferred_mode": "aead_xchacha20_poly1305_rtpsize"}, "voice")
    assert fallback.preferred_mode == "aead_xchacha20_poly1305_rtpsize"
