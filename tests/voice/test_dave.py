"""DAVE against the fake server playing Discord's part (external sender, proposals, transitions) and a second
`davey` member: the bot's frames are end-to-end encrypted and readable only inside the group."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator

import davey
import numpy as np
import pytest

from bot.voice.connection import VoiceSession
from tests.fakes.voice import ExternalSender, FakeVoiceServer, decode_opus, encode_opus, split_commit_welcome
from tests.voice.conftest import BOT_ID, CHANNEL_ID, connect

OTHER_ID = 9001
OTHER_SSRC = 4444
KEY_PACKAGE, COMMIT_WELCOME, TRANSITION_READY, INVALID_COMMIT = 26, 28, 23, 31


@pytest.fixture
async def dave_fake() -> AsyncIterator[FakeVoiceServer]:
    server = FakeVoiceServer(dave_version=1, heartbeat_ms=200)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def dave_session(dave_fake: FakeVoiceServer) -> AsyncIterator[VoiceSession]:
    voice = await connect(dave_fake)
    yield voice
    await voice.disconnect()


def _sent(fake: FakeVoiceServer, op: int) -> list[bytes]:
    return [payload for code, payload in fake.client_binary if code == op]


def _json_sent(fake: FakeVoiceServer, op: int) -> list[dict[str, object]]:
    return [d for code, d in fake.client_json if code == op]


async def _form_group(fake: FakeVoiceServer, voice: VoiceSession, transition_id: int = 3) -> davey.DaveSession:
    """Discord's flow for a new call: external sender → key packages → add proposals → commit/welcome → transition."""
    sender = ExternalSender()
    await fake.send_json(11, {"user_ids": [str(OTHER_ID)]})
    assert not _sent(fake, KEY_PACKAGE)  # nothing to say before the external sender is known
    await fake.send_binary(25, sender.package())
    await fake.wait_for(lambda: len(_sent(fake, KEY_PACKAGE)) == 1)

    other = davey.DaveSession(1, OTHER_ID, CHANNEL_ID)
    other.set_external_sender(sender.package())
    await fake.send_binary(27, sender.proposals_payload(CHANNEL_ID, 0, [other.get_serialized_key_package()]))
    await fake.wait_for(lambda: len(_sent(fake, COMMIT_WELCOME)) == 1)
    commit, welcome = split_commit_welcome(_sent(fake, COMMIT_WELCOME)[0])
    assert welcome is not None

    await fake.send_binary(29, struct.pack(">H", transition_id) + commit)
    await fake.wait_for(lambda: {"transition_id": transition_id} in _json_sent(fake, TRANSITION_READY))
    other.process_welcome(welcome)
    await fake.send_json(22, {"transition_id": transition_id})
    await fake.wait_for(lambda: voice.dave.transitions_executed == 1)
    return other


async def test_group_forms_and_played_audio_is_end_to_end_encrypted(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    other = await _form_group(dave_fake, dave_session)
    status = dave_session.status()
    assert status.dave_protocol_version == 1 and status.dave_epoch == 1
    assert status.privacy_code is not None and len(status.privacy_code) == 30
    assert status.privacy_code == other.voice_privacy_code  # both members display the same code

    tone = (np.sin(np.arange(960 * 2 * 10) / 9) * 9000).astype(np.int16).tobytes()
    await dave_session.player.play(tone)
    await dave_fake.wait_for(lambda: len(dave_fake.frames) >= 10)
    audio = [f for f in dave_fake.frames[:10]]
    assert all(f.endswith(b"\xfa\xfa") for f in audio)  # DAVE's magic marker on every media frame
    plain = [other.decrypt(BOT_ID, davey.MediaType.audio, f) for f in audio]
    # The server relays ciphertext: no frame carries its Opus payload (beyond the clear TOC byte) in the open.
    assert all(p[1:] not in f for p, f in zip(plain, audio, strict=True))
    heard = np.frombuffer(decode_opus(plain), dtype=np.int16)
    assert np.sqrt(np.mean(heard.astype(np.float64) ** 2)) > 3000


async def test_group_members_audio_is_decrypted_and_attributed(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    other = await _form_group(dave_fake, dave_session)
    tone = (np.sin(np.arange(960 * 2 * 12) / 5) * 9000).astype(np.int16).tobytes()
    frames = encode_opus(tone)
    stream = dave_session.receiver.stream(OTHER_ID)
    await dave_fake.send_json(5, {"user_id": str(OTHER_ID), "ssrc": OTHER_SSRC, "speaking": 1})
    await dave_fake.wait_for(lambda: OTHER_SSRC in dave_session.receiver.ssrc_users)
    dave_fake.send_audio(OTHER_ID, OTHER_SSRC, frames, transform=other.encrypt_opus)
    first = await anext(stream)
    assert first.user_id == OTHER_ID and not first.concealed
    # Frames that skip DAVE while the group is active are not audio from a member: dropped and counted.
    dave_fake.send_audio(OTHER_ID, OTHER_SSRC, frames[:2])
    await dave_fake.wait_for(lambda: dave_session.receiver.stats.dave_failures == 2)


async def test_new_epoch_sends_a_new_key_package_and_bad_commit_is_reported(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    await dave_fake.send_binary(25, ExternalSender().package())
    await dave_fake.wait_for(lambda: len(_sent(dave_fake, KEY_PACKAGE)) == 1)
    await dave_fake.send_json(24, {"protocol_version": 1, "epoch": 1})
    await dave_fake.wait_for(lambda: len(_sent(dave_fake, KEY_PACKAGE)) == 2)
    assert _sent(dave_fake, KEY_PACKAGE)[0] != _sent(dave_fake, KEY_PACKAGE)[1]

    await dave_fake.send_binary(29, struct.pack(">H", 12) + b"not an MLS commit")
    await dave_fake.wait_for(lambda: _json_sent(dave_fake, INVALID_COMMIT) == [{"transition_id": 12}])
    await dave_fake.wait_for(lambda: len(_sent(dave_fake, KEY_PACKAGE)) == 3)  # rejoins with a fresh package
    assert dave_session.status().privacy_code is None


async def test_server_binary_frames_count_towards_seq_ack(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    await dave_fake.send_binary(25, ExternalSender().package())
    last_seq = dave_fake._seq  # pyright: ignore[reportPrivateUsage]
    await dave_fake.wait_for(lambda: any(h["seq_ack"] == last_seq for h in dave_fake.heartbeats))
    assert _sent(dave_fake, KEY_PACKAGE)[0][:4] == b"\x00\x01\x00\x02"  # a bare KeyPackage: mls10, suite 2


async def test_downgrade_to_version_0_passes_audio_through(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    await _form_group(dave_fake, dave_session)
    await dave_fake.send_json(21, {"protocol_version": 0, "transition_id": 9})
    await dave_fake.wait_for(lambda: {"transition_id": 9} in _json_sent(dave_fake, TRANSITION_READY))
    await dave_fake.send_json(22, {"transition_id": 9})
    await dave_fake.wait_for(lambda: dave_session.dave.transitions_executed == 2)
    assert dave_session.status().dave_protocol_version == 0 and dave_session.status().privacy_code is None
    tone = (np.sin(np.arange(960 * 2 * 5) / 9) * 9000).astype(np.int16).tobytes()
    await dave_session.player.play(tone)
    await dave_fake.wait_for(lambda: len(dave_fake.frames) >= 5)
    assert not dave_fake.frames[0].endswith(b"\xfa\xfa")
    heard = np.frombuffer(decode_opus(dave_fake.frames[:5]), dtype=np.int16)
    assert np.sqrt(np.mean(heard.astype(np.float64) ** 2)) > 3000


async def test_without_dave_frames_are_plain_opus_and_no_privacy_code(
    fake: FakeVoiceServer, session: VoiceSession
) -> None:
    await session.player.play(bytes(3840 * 3))
    await fake.wait_for(lambda: len(fake.frames) >= 3)
    assert session.status().dave_protocol_version == 0 and session.status().privacy_code is None
    assert not fake.frames[0].endswith(b"\xfa\xfa")
