"""Talking with the bot in a voice channel, through the fake Discord and the fake voice server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.discord.voice_rooms import VoiceRooms
from bot.metrics import Metrics
from bot.speech.audio import to_pcm48k_stereo
from bot.speech.transcribe import Transcriber
from tests.assets import DATA
from tests.fakes.discord import CONNECT, SPEAK, Event, FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI
from tests.fakes.voice import DaveMember, FakeVoiceServer, encode_opus

SPEAKER_SSRC = 777


@pytest.fixture
async def voice_server() -> AsyncIterator[FakeVoiceServer]:
    server = FakeVoiceServer(heartbeat_ms=200)
    await server.start()
    yield server
    await server.close()


def wire_voice(discord: FakeDiscord, server: FakeVoiceServer) -> None:
    """Discord's side of joining: the bot's op 4 is answered with its voice state and the voice server."""

    def on_voice_state_update(d: dict[str, Any]) -> None:
        channel = int(d["channel_id"]) if d["channel_id"] else None
        discord.dispatch_voice_state_update(discord.bot_user, channel, "gw-session", discord.guild_id)
        if channel:
            discord.dispatch_voice_server_update(discord.guild_id, server.endpoint.removeprefix("ws://"), "tok")

    discord.on_voice_state_update = on_voice_state_update


async def speak_in_real_time(
    server: FakeVoiceServer,
    user_id: int,
    frames: list[bytes],
    ssrc: int = SPEAKER_SSRC,
    transform: Callable[[bytes], bytes] | None = None,
    first_seq: int = 1000,
) -> None:
    """A Discord client sends one 20 ms frame every 20 ms; the bot's end-of-speech timing depends on it."""
    start = asyncio.get_running_loop().time()
    for index in range(0, len(frames), 5):
        order = list(range(index, min(index + 5, len(frames))))
        server.send_audio(user_id, ssrc, frames, order=order, transform=transform, first_seq=first_seq)
        # Pacing the simulated microphone, not waiting for the bot: the source is real-time by nature.
        await asyncio.sleep(max(0.0, start + (index + 5) * 0.02 - asyncio.get_running_loop().time()))


def said(e: Event) -> str:
    data = e.json.get("data", e.json) if e.kind == "callback" else e.json
    return json.dumps(data)


async def test_join_speak_hear_the_answer_and_leave(
    discord: FakeDiscord, openai_fake: FakeOpenAI, voice_server: FakeVoiceServer, tmp_path: Path
) -> None:
    wire_voice(discord, voice_server)
    openai_fake.reply("Mars is cold and dusty.")
    async with running_bot(
        discord,
        openai_fake,
        tmp_path,
        voice={"plain_ws_on_loopback": True},
        conversation={"transcript_channel_id": discord.other_channel_id},
    ) as built:
        not_in_voice = discord.slash("voice", subcommand="join")
        assert "Join a voice channel first" in said(await not_in_voice.wait_callback())
        discord.dispatch_voice_state_update(
            discord.member, discord.voice_channel_id, "member-session", discord.guild_id
        )
        joined = discord.slash("voice", subcommand="join")
        await joined.wait(lambda e: e.kind in ("edit", "followup"))
        assert joined.original is not None and f"Listening in <#{discord.voice_channel_id}>" in joined.original.content

        # The member asks out loud.
        await voice_server.send_json(5, {"user_id": str(discord.member.id), "ssrc": SPEAKER_SSRC, "speaking": 1})
        await voice_server.wait_for(lambda: bool(voice_server.identifies))
        room = built.get(VoiceRooms).get(discord.guild_id)
        assert room is not None
        await voice_server.wait_for(lambda: room.session.receiver.ssrc_users.get(SPEAKER_SSRC) == discord.member.id)
        speech = to_pcm48k_stereo((DATA / "weather_question.ogg").read_bytes())
        await speak_in_real_time(voice_server, discord.member.id, encode_opus(speech + bytes(3840 * 40)))

        # The turn is written out in the transcript channel with the Correct button, and the answer is spoken.
        posted = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.other_channel_id) if m.custom_ids], timeout=60
        )
        assert "Tell me about the weather on Mars." in posted[0].content
        assert "Mars is cold and dusty." in posted[0].content
        metric = built.get(Metrics).registry.get_sample_value
        assert metric("teachbot_voice_sessions") == 1
        assert metric("teachbot_answers_total", {"route": "voice"}) == 1
        # What the bot said, as the voice server received it, decoded and heard back by Whisper.
        await voice_server.wait_for(lambda: len(voice_server.frames) > 70, timeout=30)
        heard = np.frombuffer(voice_server.decoded_audio(), dtype=np.int16).reshape(-1, 2).mean(axis=1)
        heard16k = (heard[::3] / 32768.0).astype(np.float32)
        spoken = await built.get(Transcriber).transcribe(heard16k, "en")
        assert "cold" in spoken.text.lower() and "dusty" in spoken.text.lower()

        status = discord.slash("voice", subcommand="status")
        card = said(await status.wait_callback())
        assert f"<#{discord.voice_channel_id}>" in card and "Voice privacy code" in card

        left = discord.slash("voice", subcommand="leave")
        assert "Left the voice channel" in said(await left.wait_callback())
        assert built.get(VoiceRooms).get(discord.guild_id) is None
        assert metric("teachbot_voice_sessions") == 0
        await asyncio.wait_for(room.session.join(), 5)


async def test_the_bot_leaves_when_nobody_is_left_in_the_channel(
    discord: FakeDiscord, openai_fake: FakeOpenAI, voice_server: FakeVoiceServer, tmp_path: Path
) -> None:
    wire_voice(discord, voice_server)
    left: list[dict[str, Any]] = []
    joined_handler = discord.on_voice_state_update
    assert joined_handler is not None

    def record(d: dict[str, Any]) -> None:
        if d["channel_id"] is None:
            left.append(d)
        joined_handler(d)

    discord.on_voice_state_update = record
    async with running_bot(
        discord, openai_fake, tmp_path, voice={"plain_ws_on_loopback": True}, conversation={"alone_leave_s": 0.2}
    ) as built:
        discord.dispatch_voice_state_update(
            discord.member, discord.voice_channel_id, "member-session", discord.guild_id
        )
        joined = discord.slash("voice", subcommand="join")
        await joined.wait(lambda e: e.kind in ("edit", "followup"))
        assert built.get(VoiceRooms).get(discord.guild_id) is not None
        discord.dispatch_voice_state_update(discord.member, None, "member-session", discord.guild_id)
        await discord.wait_for(lambda: bool(left) and built.get(VoiceRooms).get(discord.guild_id) is None)


async def test_two_speakers_are_told_apart_and_talking_over_the_bot_stops_it(
    discord: FakeDiscord, openai_fake: FakeOpenAI, voice_server: FakeVoiceServer, tmp_path: Path
) -> None:
    wire_voice(discord, voice_server)
    long_answer = " ".join(f"This is sentence number {i} of a long answer." for i in range(12))
    openai_fake.reply(long_answer, "Paris.")
    other = discord.make_user("dana")
    async with running_bot(
        discord,
        openai_fake,
        tmp_path,
        voice={"plain_ws_on_loopback": True},
        conversation={"transcript_channel_id": discord.other_channel_id, "language": "en"},
    ) as built:
        for user in (discord.member, other):
            discord.dispatch_voice_state_update(user, discord.voice_channel_id, f"s-{user.id}", discord.guild_id)
        joined = discord.slash("voice", subcommand="join")
        await joined.wait(lambda e: e.kind in ("edit", "followup"))
        room = built.get(VoiceRooms).get(discord.guild_id)
        assert room is not None
        for user, ssrc in ((discord.member, SPEAKER_SSRC), (other, SPEAKER_SSRC + 1)):
            await voice_server.send_json(5, {"user_id": str(user.id), "ssrc": ssrc, "speaking": 1})
            await voice_server.wait_for(lambda s=ssrc, u=user: room.session.receiver.ssrc_users.get(s) == u.id)

        first = to_pcm48k_stereo((DATA / "weather_question.ogg").read_bytes())
        await speak_in_real_time(voice_server, discord.member.id, encode_opus(first + bytes(3840 * 40)))
        await voice_server.wait_for(lambda: room.session.player.is_playing, timeout=30)
        # Dana talks over the long answer: the bot stops at once and answers her.
        second = to_pcm48k_stereo((DATA / "capital_of_france.ogg").read_bytes())
        talking = asyncio.create_task(
            speak_in_real_time(voice_server, other.id, encode_opus(second + bytes(3840 * 40)), ssrc=SPEAKER_SSRC + 1)
        )
        posted = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.other_channel_id) if m.custom_ids][1:], timeout=60
        )
        await talking
        turns = room.conversation.status.recent_turns
        assert [t.user_id for t in turns] == [discord.member.id, other.id]
        assert turns[0].interrupted
        assert "weather on Mars" in turns[0].transcript and "capital" in turns[1].transcript.lower()
        assert f"<@{other.id}>" in posted[0].content and "Paris." in posted[0].content


async def test_nobody_moves_the_bot_into_a_room_they_are_not_in_or_cannot_enter(
    discord: FakeDiscord, openai_fake: FakeOpenAI, voice_server: FakeVoiceServer, tmp_path: Path
) -> None:
    wire_voice(discord, voice_server)
    asked_gateway: list[dict[str, Any]] = []
    forward = discord.on_voice_state_update
    assert forward is not None

    def record(d: dict[str, Any]) -> None:
        asked_gateway.append(d)
        forward(d)

    discord.on_voice_state_update = record
    eve, locked_out = discord.make_user("eve"), discord.make_user("lou")
    discord.deny(discord.voice_channel_id, CONNECT, user=locked_out)
    both = {"command_guilds": [discord.guild_id, discord.other_guild_id]}
    async with running_bot(
        discord, openai_fake, tmp_path, voice={"plain_ws_on_loopback": True, "max_sessions": 1}, discord=both
    ) as built:
        remote = discord.slash("voice", subcommand="join", options={"channel": discord.voice_channel_id}, user=eve)
        assert "only join a voice channel you are in" in said(await remote.wait_callback())
        discord.dispatch_voice_state_update(locked_out, discord.voice_channel_id, "lou", discord.guild_id)
        no_connect = discord.slash("voice", subcommand="join", user=locked_out)
        assert "can't connect to" in said(await no_connect.wait_callback())
        assert asked_gateway == [] and built.get(VoiceRooms).get(discord.guild_id) is None

        discord.dispatch_voice_state_update(discord.member, discord.voice_channel_id, "m", discord.guild_id)
        joined = discord.slash("voice", subcommand="join")
        await joined.wait(lambda e: e.kind in ("edit", "followup"))
        assert built.get(VoiceRooms).get(discord.guild_id) is not None
        # Someone outside the room cannot end the conversation; and a second room is past this process's cap.
        pulled = discord.slash("voice", subcommand="leave", user=eve)
        assert "Only someone in" in said(await pulled.wait_callback())
        assert built.get(VoiceRooms).get(discord.guild_id) is not None
        elsewhere = discord.slash(
            "voice",
            subcommand="join",
            options={"channel": discord.other_guild_voice_channel_id},
            user=discord.admin,
            guild_id=discord.other_guild_id,
            channel_id=discord.other_guild_channel_id,
        )
        assert "as many voice channels as I can handle" in said(await elsewhere.wait_callback())


async def test_the_bot_refuses_a_room_where_it_may_not_speak(
    discord: FakeDiscord, openai_fake: FakeOpenAI, voice_server: FakeVoiceServer, tmp_path: Path
) -> None:
    wire_voice(discord, voice_server)
    discord.deny(discord.voice_channel_id, SPEAK, user=discord.bot_user)
    async with running_bot(discord, openai_fake, tmp_path, voice={"plain_ws_on_loopback": True}) as built:
        discord.dispatch_voice_state_update(discord.member, discord.voice_channel_id, "m", discord.guild_id)
        joined = discord.slash("voice", subcommand="join")
        assert "need the View Channel, Connect and Speak" in said(await joined.wait_callback())
        assert built.get(VoiceRooms).get(discord.guild_id) is None


async def test_a_spoken_answer_never_remembers_a_private_answer(
    discord: FakeDiscord, openai_fake: FakeOpenAI, voice_server: FakeVoiceServer, tmp_path: Path
) -> None:
    wire_voice(discord, voice_server)
    async with running_bot(
        discord,
        openai_fake,
        tmp_path,
        voice={"plain_ws_on_loopback": True},
        conversation={"transcript_channel_id": discord.other_channel_id},
    ) as built:
        # Privately, in the voice channel's text chat: only the member saw this.
        secret = discord.slash(
            "ask",
            options={"question": "My PIN is 4921.", "private": True},
            channel_id=discord.voice_channel_id,
        )
        await secret.wait(lambda e: "correct:" in str(e.json.get("components")))

        discord.dispatch_voice_state_update(discord.member, discord.voice_channel_id, "m", discord.guild_id)
        joined = discord.slash("voice", subcommand="join")
        await joined.wait(lambda e: e.kind in ("edit", "followup"))
        room = built.get(VoiceRooms).get(discord.guild_id)
        assert room is not None
        await voice_server.send_json(5, {"user_id": str(discord.member.id), "ssrc": SPEAKER_SSRC, "speaking": 1})
        await voice_server.wait_for(lambda: room.session.receiver.ssrc_users.get(SPEAKER_SSRC) == discord.member.id)
        speech = to_pcm48k_stereo((DATA / "weather_question.ogg").read_bytes())
        await speak_in_real_time(voice_server, discord.member.id, encode_opus(speech + bytes(3840 * 40)))

        # The spoken answer, heard by the whole room, was not built on it.
        await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.other_channel_id) if m.custom_ids], timeout=60
        )
        sent = json.dumps(openai_fake.chat_requests[-1]["messages"])
        assert "weather" in sent.lower() and "4921" not in sent


async def test_a_member_whose_dave_keys_went_out_of_step_is_heard_again_and_answered(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    # Failed before the fix: the bot stayed in the call, deaf to the member, and never answered.
    server = FakeVoiceServer(heartbeat_ms=200, dave_version=1, channel_id=discord.voice_channel_id)
    await server.start()
    server.present_users = [discord.member.id]  # announced with op 11 after the bot's IDENTIFY
    wire_voice(discord, server)
    openai_fake.reply("Mars is cold and dusty.")
    try:
        async with running_bot(
            discord,
            openai_fake,
            tmp_path,
            voice={"plain_ws_on_loopback": True},
            conversation={"transcript_channel_id": discord.other_channel_id},
        ) as built:
            discord.dispatch_voice_state_update(discord.member, discord.voice_channel_id, "m", discord.guild_id)
            joined = discord.slash("voice", subcommand="join")
            await joined.wait(lambda e: e.kind in ("edit", "followup"))
            room = built.get(VoiceRooms).get(discord.guild_id)
            assert room is not None
            await server.send_json(5, {"user_id": str(discord.member.id), "ssrc": SPEAKER_SSRC, "speaking": 1})
            await server.wait_for(lambda: room.session.receiver.ssrc_users.get(SPEAKER_SSRC) == discord.member.id)
            member = DaveMember(discord.member.id, SPEAKER_SSRC, discord.voice_channel_id, server.external_sender)
            await server.form_group(member, 3)
            await server.wait_for(lambda: room.session.dave.transitions_executed == 1)

            member.own_group()  # the member's client applied a commit the bot never got
            unheard = encode_opus(bytes(3840 * 40))
            await speak_in_real_time(server, discord.member.id, unheard, transform=member.encrypt)
            await server.wait_for(lambda: server.readds == 1 and room.session.dave.transitions_executed == 2)

            speech = to_pcm48k_stereo((DATA / "weather_question.ogg").read_bytes())
            frames = encode_opus(speech + bytes(3840 * 40))
            # The member's client goes on numbering its packets where it was.
            await speak_in_real_time(
                server, discord.member.id, frames, transform=member.encrypt, first_seq=1000 + len(unheard)
            )
            posted = await discord.wait_for(
                lambda: [m for m in discord.bot_messages_in(discord.other_channel_id) if m.custom_ids], timeout=60
            )
            assert "Tell me about the weather on Mars." in posted[0].content
            assert "Mars is cold and dusty." in posted[0].content
            # Only what was sent while the keys were out of step was lost; nothing of the question was.
            stats = room.session.receiver.stats
            assert (stats.concealed, stats.late_or_duplicate, stats.decode_errors) == (0, 0, 0)

            card = json.loads(said(await discord.slash("voice", subcommand="status").wait_callback()))
            fields = {f["name"]: f["value"] for f in card["embeds"][0]["fields"]}
            assert "keys re-synced 1× and rejoined 0×" in fields["Encryption"]
    finally:
        await server.close()
