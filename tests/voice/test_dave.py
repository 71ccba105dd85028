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
from bot.voice.receiver import HeardFrame
from tests.fakes.voice import (
    CORRUPT_OPUS,
    OPUS_SILENCE,
    DaveMember,
    ExternalSender,
    FakeVoiceServer,
    decode_opus,
    encode_opus,
    split_commit_welcome,
)
from tests.voice.conftest import BOT_ID, CHANNEL_ID, MainGateway, connect, server_event, state_event

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


# ---- receive under DAVE recovers (issue 25) ----


class Clock:
    """The session's clock for DAVE's time-based rules (cooldowns, the downgrade's grace), moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _tone_frames(count: int, pitch: float = 5) -> list[bytes]:
    return encode_opus((np.sin(np.arange(960 * 2 * count) / pitch) * 9000).astype(np.int16).tobytes())[:count]


async def _member(
    fake: FakeVoiceServer, voice: VoiceSession, user_id: int = OTHER_ID, ssrc: int = OTHER_SSRC
) -> DaveMember:
    """A member who joined the call (op 11) and announced the ssrc they speak from (op 5)."""
    member = DaveMember(user_id, ssrc, fake.channel_id, fake.external_sender)
    await fake.send_json(11, {"user_ids": [str(user_id)]})
    await fake.send_json(5, {"user_id": str(user_id), "ssrc": ssrc, "speaking": 1})
    await fake.wait_for(lambda: voice.receiver.ssrc_users.get(ssrc) == user_id)
    return member


async def _grouped(fake: FakeVoiceServer, voice: VoiceSession, transition_id: int = 3) -> DaveMember:
    member = await _member(fake, voice)
    executed = voice.dave.transitions_executed
    await fake.form_group(member, transition_id)
    await fake.wait_for(lambda: voice.dave.transitions_executed == executed + 1)
    return member


async def _hear(stream: AsyncIterator[HeardFrame], count: int) -> list[HeardFrame]:
    return [await asyncio.wait_for(anext(stream), 5) for _ in range(count)]


async def test_a_member_whose_keys_went_out_of_step_is_heard_again_after_the_bot_re_keys(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    # Failed before the fix: the bot only counted the failures and stayed deaf to the member for good.
    member = await _grouped(dave_fake, dave_session, transition_id=3)
    member.own_group()  # the member moved on to a commit the bot never got: its frames no longer decrypt
    packages = len(_sent(dave_fake, KEY_PACKAGE))
    dave_fake.send_audio(OTHER_ID, OTHER_SSRC, _tone_frames(40), transform=member.encrypt)
    await dave_fake.wait_for(lambda: dave_fake.readds == 1)
    assert dave_fake.invalid_commits == [3]  # op 31 names the last transition, once
    assert len(_sent(dave_fake, KEY_PACKAGE)) == packages + 1
    await dave_fake.wait_for(lambda: dave_session.dave.transitions_executed == 2)

    stream = dave_session.receiver.stream(OTHER_ID)
    frames = _tone_frames(10)
    dave_fake.send_audio(OTHER_ID, OTHER_SSRC, frames, transform=member.encrypt, first_seq=3000)
    heard = await _hear(stream, 8)
    assert [f.concealed for f in heard] == [False] * 8
    assert b"".join(f.pcm for f in heard) == decode_opus(frames[:8])
    status = dave_session.status()
    assert status.dave_reinitialisations == 1 and status.dave_rejoins == 0 and status.privacy_code is not None


async def test_after_a_sole_member_reset_transition_0_is_named_when_a_member_cannot_be_decrypted(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    # Failed before the fix (and in discord.js, which treats transition 0 as none): no op 31, the bot stayed deaf.
    await dave_fake.sole_member_reset()
    await dave_fake.wait_for(lambda: dave_session.dave.transitions_executed == 1)
    member = await _member(dave_fake, dave_session)
    member.own_group()  # speaking from a group the bot was never added to
    dave_fake.committer = member
    dave_fake.send_audio(OTHER_ID, OTHER_SSRC, _tone_frames(40), transform=member.encrypt)
    await dave_fake.wait_for(lambda: dave_fake.readds == 1)
    assert dave_fake.invalid_commits == [0]
    await dave_fake.wait_for(lambda: dave_session.dave.transitions_executed == 2)
    stream = dave_session.receiver.stream(OTHER_ID)
    frames = _tone_frames(6)
    dave_fake.send_audio(OTHER_ID, OTHER_SSRC, frames, transform=member.encrypt, first_seq=3000)
    heard = await _hear(stream, 4)
    assert b"".join(f.pcm for f in heard) == decode_opus(frames[:4])


async def test_re_keying_waits_for_its_cooldown_and_rejoining_is_the_last_resort(dave_fake: FakeVoiceServer) -> None:
    # Failed before the fix: nothing was ever done about frames that stopped decrypting.
    clock = Clock()
    gateway = MainGateway(dave_fake)
    voice = await connect(dave_fake, gateway=gateway, clock=clock)
    try:
        member = await _grouped(dave_fake, voice, transition_id=7)
        member.own_group()
        dave_fake.committer = None  # the server never re-adds the bot: re-keying cannot help here
        packages = len(_sent(dave_fake, KEY_PACKAGE))

        async def fails(frames: int) -> None:
            failures = voice.receiver.stats.dave_failures
            dave_fake.send_audio(OTHER_ID, OTHER_SSRC, _tone_frames(frames), transform=member.encrypt)
            await dave_fake.wait_for(lambda: voice.receiver.stats.dave_failures == failures + frames)

        await fails(40)
        await dave_fake.wait_for(lambda: len(_sent(dave_fake, KEY_PACKAGE)) == packages + 1)
        assert dave_fake.invalid_commits == [7]
        await fails(80)  # within the cooldown: nothing more
        await _processed(dave_fake)
        assert len(_sent(dave_fake, KEY_PACKAGE)) == packages + 1

        clock.now += voice.settings.dave_recovery_cooldown_s
        await fails(40)
        await dave_fake.wait_for(lambda: len(_sent(dave_fake, KEY_PACKAGE)) == packages + 2)
        assert dave_fake.invalid_commits == [7]  # one op 31 per transition
        assert gateway.rejoins == []

        clock.now += voice.settings.dave_recovery_cooldown_s
        dave_fake.present_users = [OTHER_ID]  # still in the call: op 11 says so after the new IDENTIFY
        await fails(40)
        await dave_fake.wait_for(lambda: len(dave_fake.selects) == 2)  # left, rejoined, a fresh voice session
        await voice.wait_ready()
        assert gateway.rejoins == [CHANNEL_ID] and not dave_fake.resumes
        assert voice.dave.other_users == {OTHER_ID}
        status = voice.status()
        assert (status.dave_reinitialisations, status.dave_rejoins) == (2, 1) and status.state == "connected"
    finally:
        await voice.disconnect()


async def test_a_corrupt_frame_is_concealed_and_nobody_stops_being_heard(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    # Failed before the fix: the decoder's error escaped the UDP callback (logged as an error) and the held frame
    # stopped the receive tick for everyone.
    first, second = await _member(dave_fake, dave_session), await _member(dave_fake, dave_session, 9002, 5555)
    await dave_fake.form_group([first, second], 3)
    await dave_fake.wait_for(lambda: dave_session.dave.transitions_executed == 1)
    streams = [dave_session.receiver.stream(OTHER_ID), dave_session.receiver.stream(9002)]
    changes = dave_session.receiver.speaking_changes()
    frames = _tone_frames(8)
    corrupt = [*frames[:4], CORRUPT_OPUS, *frames[4:]]
    for n in range(9):  # both talk at once, packet by packet
        dave_fake.send_audio(OTHER_ID, OTHER_SSRC, corrupt, order=[n], transform=first.encrypt)
        dave_fake.send_audio(9002, 5555, frames + frames[:1], order=[n], transform=second.encrypt)
    first_heard, second_heard = await asyncio.gather(_hear(streams[0], 9), _hear(streams[1], 9))
    assert [f.concealed for f in first_heard] == [False] * 4 + [True] + [False] * 4
    assert b"".join(f.pcm for f in second_heard) == decode_opus(frames + frames[:1])
    stats = dave_session.receiver.stats
    assert (stats.decode_errors, stats.dave_failures, stats.receive_errors) == (1, 0, 0)
    stopped = [c for c in [await anext(changes) for _ in range(4)] if not c.speaking]
    assert {c.user_id for c in stopped} == {OTHER_ID, 9002}  # both went idle: their turns end


async def test_padding_only_bursts_at_a_pause_are_not_concealed_as_lost_audio(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    # Failed before the fix: the three padding-only packets were concealed as three lost frames.
    member = await _grouped(dave_fake, dave_session)
    stream = dave_session.receiver.stream(OTHER_ID)
    frames = _tone_frames(8)
    dave_fake.send_audio(OTHER_ID, OTHER_SSRC, frames[:4], transform=member.encrypt, first_seq=1000)
    dave_fake.send_padding_only(OTHER_SSRC, first_seq=1004, count=3)
    dave_fake.send_audio(OTHER_ID, OTHER_SSRC, frames[4:], transform=member.encrypt, first_seq=1007)
    heard = await _hear(stream, 8)
    assert [f.concealed for f in heard] == [False] * 8
    assert dave_session.receiver.stats.concealed == 0 and dave_session.receiver.stats.dave_failures == 0


async def test_frames_in_flight_after_a_downgrade_are_heard_during_the_grace_and_never_decoded_after(
    dave_fake: FakeVoiceServer,
) -> None:
    # Failed before the fix: the keys were dropped at once, so the member's last encrypted frames went to the Opus
    # decoder as they were.
    clock = Clock()
    voice = await connect(dave_fake, clock=clock)
    try:
        member = await _grouped(dave_fake, voice)
        await dave_fake.downgrade(9)
        await dave_fake.wait_for(lambda: voice.dave.transitions_executed == 2)
        assert voice.status().dave_protocol_version == 0 and voice.status().privacy_code is None
        stream = voice.receiver.stream(OTHER_ID)
        in_flight, plain = _tone_frames(4), _tone_frames(4, pitch=9)
        dave_fake.send_audio(OTHER_ID, OTHER_SSRC, in_flight, transform=member.encrypt, first_seq=1000)
        dave_fake.send_audio(OTHER_ID, OTHER_SSRC, plain, first_seq=1004)
        heard = await _hear(stream, 8)
        assert b"".join(f.pcm for f in heard) == decode_opus(in_flight + plain)

        clock.now += 10  # the grace is over: a late encrypted frame is dropped, not played as noise
        delivered = voice.receiver.stats.frames_delivered
        dave_fake.send_audio(OTHER_ID, OTHER_SSRC, _tone_frames(3), transform=member.encrypt, first_seq=1008)
        await dave_fake.wait_for(lambda: voice.receiver.stats.dave_failures == 3)
        assert voice.receiver.stats.frames_delivered == delivered
    finally:
        await voice.disconnect()


async def test_plain_frames_are_heard_while_the_call_upgrades_to_dave(dave_fake: FakeVoiceServer) -> None:
    # Failed before the fix: the new group's decryptors refused plain frames from the moment op 24 arrived.
    voice = await connect(dave_fake)
    try:
        await _grouped(dave_fake, voice)
        await dave_fake.downgrade(9)
        await dave_fake.wait_for(lambda: voice.dave.transitions_executed == 2)
        stream = voice.receiver.stream(OTHER_ID)
        packages = len(_sent(dave_fake, KEY_PACKAGE))
        await dave_fake.send_json(24, {"protocol_version": 1, "epoch": 1})  # upgrading again
        await dave_fake.send_binary(25, dave_fake.external_sender.package())
        await dave_fake.wait_for(lambda: len(_sent(dave_fake, KEY_PACKAGE)) == packages + 1)
        before = _tone_frames(3)
        dave_fake.send_audio(OTHER_ID, OTHER_SSRC, before, first_seq=2000)  # not switched yet: plain
        assert b"".join(f.pcm for f in await _hear(stream, 3)) == decode_opus(before)

        member = DaveMember(OTHER_ID, OTHER_SSRC, dave_fake.channel_id, dave_fake.external_sender)
        await dave_fake.form_group(member, 11)
        await dave_fake.wait_for(lambda: voice.dave.transitions_executed == 3)
        late, encrypted = _tone_frames(3, pitch=9), _tone_frames(3, pitch=7)
        dave_fake.send_audio(OTHER_ID, OTHER_SSRC, late, first_seq=2003)  # a member a moment behind, in the grace
        dave_fake.send_audio(OTHER_ID, OTHER_SSRC, encrypted, transform=member.encrypt, first_seq=2006)
        heard = await _hear(stream, 6)
        assert b"".join(f.pcm for f in heard) == decode_opus(before + late + encrypted)[len(decode_opus(before)) :]
        assert voice.status().dave_protocol_version == 1 and voice.receiver.stats.dave_failures == 0
    finally:
        await voice.disconnect()


async def test_one_op_31_per_transition_however_many_bad_messages_name_it(
    dave_fake: FakeVoiceServer, dave_session: VoiceSession
) -> None:
    # Failed before the fix: each bad commit or welcome for the transition sent op 31 and a new key package again.
    await _processed(dave_fake)
    packages = len(_sent(dave_fake, KEY_PACKAGE))
    await dave_fake.send_binary(29, struct.pack(">H", 12) + b"not an MLS commit")
    await dave_fake.send_binary(30, struct.pack(">H", 12) + b"not an MLS welcome")
    await dave_fake.send_binary(29, struct.pack(">H", 12) + b"still not a commit")
    await _processed(dave_fake)
    assert _json_sent(dave_fake, INVALID_COMMIT) == [{"transition_id": 12}]
    assert len(_sent(dave_fake, KEY_PACKAGE)) == packages + 1
