"""Discord voice driver: join a channel, play speech, hear each speaker, with DAVE end-to-end encryption.

Public surface:

- `connect(bot, guild, channel, settings=None) -> VoiceSession` joins undeafened through hikari's
  `bot.voice.connect_to`; `bot.voice.disconnect(guild)` or `await session.disconnect()` leaves.
- `VoiceSession.player: Player` — `await play(pcm_or_chunks, channels=2)` plays s16le 48 kHz PCM (bytes, numpy
  array or async iterator of chunks); `await play_encoded(file_bytes)` decodes any audio file off the loop;
  `stop()` interrupts within one 20 ms frame (barge-in); `is_playing`.
- `VoiceSession.receiver: Receiver` — `stream(user_id)` yields that user's `HeardFrame`s (20 ms of s16le 48 kHz
  stereo PCM, arrival time, RTP timestamp); `frames()` / `heard()` yield every user's frames (`heard()` as
  `(user_id, pcm, t)` for bot.conversation); `speaking_changes()` yields `SpeakingChange` when a user starts or
  stops sending; `stats` counts drops (undecryptable, DAVE failures, concealed losses, overflow).
- `VoiceSession.status() -> VoiceStatus` — connected, channel, latency, encryption mode, DAVE version, voice
  privacy code, epoch, who is heard now, reconnect count.
"""

from __future__ import annotations

from bot.voice.connection import VoiceConnectFailed, VoiceSession, VoiceStatus, connect
from bot.voice.player import Player
from bot.voice.receiver import HeardFrame, Receiver, ReceiverStats, SpeakingChange
from bot.voice.settings import VoiceSettings

__all__ = [
    "HeardFrame",
    "Player",
    "Receiver",
    "ReceiverStats",
    "SpeakingChange",
    "VoiceConnectFailed",
    "VoiceSession",
    "VoiceSettings",
    "VoiceStatus",
    "connect",
]
