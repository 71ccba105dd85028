"""DAVE against the fake server playing Discord's part (external sender, proposals, transitions) and a second
`davey` member: the bot's frames are end-to-end encrypted and readable only inside the group."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import davey
import numpy as np
import pytest

from bot.voice.connection import VoiceSession
from tests.fakes.voice import (
    OPUS_SILENCE,
    ExternalSender,
    FakeVoiceServer,
    decode_opus,
    encode_opus,
    split_commit_welcome,
)
from tests.voice.conftest import BOT_ID, CHANNEL_ID, connect, server_event, state_event

OTHER_ID = 9001
OTHER_SSRC = 4444
KEY_PACKAGE, COMMIT_WELCOME, TRANSITION_READY, INVALID_COMMIT = 26, 28, 23, 31


@pytest.fixture
async def dave_fake() -> AsyncIterator[FakeVoiceServer]:
    server = FakeVoiceServer(dave_version=1, heartbeat_ms=200, channel_id=CHANNEL_ID)
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


async def _form_group(
    fake: FakeVoiceServer, voice: VoiceSession, transition_id: int = 3, executed: int = 1
) -> davey.DaveSession:
    """Discord's flow for a new call: op 4, the bot's key package and the external sender (op 25, sent by the fake on
    its own) → add proposals → commit/welcome → transition. The MLS group is the voice channel's."""
    sender, group = fake.external_sender, fake.channel_id
    commits = len(_sent(fake, COMMIT_WELCOME))
    await fake.send_json(11, {"user_ids": [str(OTHER_ID)]})
    await fake.wait_for(lambda: len(_sent(fake, KEY_PACKAGE)) >= 1)

    other = davey.DaveSession(1, OTHER_ID, group)
    other.set_external_sender(sender.package())
    await fake.send_binary(27, sender.proposals_payload(group, 0, [other.get_serialized_key_package()]))
    await fake.wait_for(lambda: len(_sent(fake, COMMIT_WELCOME)) == commits + 1)
    commit, welcome = split_commit_welcome(_sent(fake, COMMIT_WELCOME)[-1])
    assert welcome is not None

    await fake.send_binary(29, struct.pack(">H", transition_id) + commit)
    await fake.wait_for(lambda: {"transition_id": transition_id} in _json_sent(fake, TRANSITION_READY))
    other.process_welcome(welcome)
    await fake.send_json(22, {"transition_id": transition_id})
    await fake.wait_for(lambda: voice.dave.transitions_executed == executed)
    return other


async def _processed(fake: FakeVoiceServer) -> None:
    """Returns once the bot has acknowledged everything the fake sent so far (its heartbeat's seq_ack)."""
    last_seq = fake._seq  # pyright: ignore[reportPrivateUsage]
    await fake.wait_for(lambda: any(h["seq_ack"] == last_seq for h in fake.heartbeats))


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


async def test_key_package_goes_out_on_session_start_new_epoch_and_bad_commit_only(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    # Failed before the fix: nothing on op 4, one on op 25 (sent alone after op 4), and two on an upgrade (op 24 + 25).
    await _processed(dave_fake)  # op 4 and the external sender (op 25) that followed it
    assert len(_sent(dave_fake, KEY_PACKAGE)) == 1
    await dave_fake.send_json(24, {"protocol_version": 1, "epoch": 1})
    await dave_fake.send_binary(25, dave_fake.external_sender.package())
    await _processed(dave_fake)
    assert len(_sent(dave_fake, KEY_PACKAGE)) == 2
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


async def test_padded_silent_foreign_and_rtcp_packets_are_handled_as_discord_sends_them(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    # Failed before the fix: padding stayed on the payload, so DAVE rejected every padded frame (dave_failures).
    other = await _form_group(dave_fake, dave_session)
    frames = encode_opus((np.sin(np.arange(960 * 2 * 8) / 5) * 9000).astype(np.int16).tobytes())[:8]
    stream = dave_session.receiver.stream(OTHER_ID)
    await dave_fake.send_json(5, {"user_id": str(OTHER_ID), "ssrc": OTHER_SSRC, "speaking": 1})
    await dave_fake.wait_for(lambda: OTHER_SSRC in dave_session.receiver.ssrc_users)
    dave_fake.send_rtcp(OTHER_SSRC)
    dave_fake.send_audio(OTHER_ID, OTHER_SSRC, frames[:4], transform=other.encrypt_opus, padding=7)
    dave_fake.send_audio(OTHER_ID, OTHER_SSRC, frames[:2], payload_type=0x65, first_seq=5000)  # not Opus
    dave_fake.send_audio(OTHER_ID, OTHER_SSRC, [OPUS_SILENCE] * 2, padding=1, first_seq=1004, extension_elements=3)
    dave_fake.send_audio(
        OTHER_ID,
        OTHER_SSRC,
        frames[6:],
        transform=other.encrypt_opus,
        first_seq=1000,
        order=[0, 1],
        extension_elements=2,
    )
    received = [await asyncio.wait_for(anext(stream), 3) for _ in range(6)]
    stats = dave_session.receiver.stats
    assert stats.dave_failures == 0 and stats.decrypt_failures == 0 and stats.not_audio == 2
    assert [f.concealed for f in received] == [False] * 6
    loud = [_rms(f.pcm) for f in received]
    # Four tone frames, then the two silence frames (the first one carries the decoder's fade-out).
    assert min(loud[:4]) > 1000 and loud[4] < loud[3] / 2 and loud[5] < 10


async def test_after_a_channel_move_the_dave_group_is_the_new_channels(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    # Failed before the fix: the bot kept the old channel as its MLS group id, so every proposal and commit of the new
    # channel's group failed.
    await _form_group(dave_fake, dave_session)
    await dave_fake.send_json(11, {"user_ids": ["31337"]})  # someone who stays behind in the old channel
    await _processed(dave_fake)
    new_channel = CHANNEL_ID + 1
    await dave_session.notify(state_event("voice-session-1", new_channel))
    await dave_fake.move_to(new_channel)
    await dave_session.notify(server_event(dave_fake.endpoint, "voice-token-2"))
    await dave_fake.wait_for(lambda: len(dave_fake.selects) == 2)
    await dave_session.wait_ready()
    other = await _form_group(dave_fake, dave_session, transition_id=5, executed=2)
    assert dave_session.dave.other_users == {OTHER_ID}  # members of the old channel were forgotten
    assert dave_session.status().privacy_code == other.voice_privacy_code
    assert len(_json_sent(dave_fake, INVALID_COMMIT)) == 0


def _rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
