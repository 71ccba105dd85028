"""The fake Discord's payloads are what hikari expects: each builder is read back by hikari's own deserializers."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import hikari
import pytest

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

from tests.fakes.discord import IS_VOICE_MESSAGE, FakeDiscord, Message, shard_of


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def factory(discord: FakeDiscord) -> hikari.api.EntityFactory:
    # An unstarted GatewayBot: its entity factory is the one that reads every gateway and REST payload.
    return hikari.GatewayBot(discord.token, banner=None, logs=None).entity_factory


def test_ready_and_guild_create_are_read_by_hikari(discord: FakeDiscord, factory: hikari.api.EntityFactory) -> None:
    ready = discord.ready_payload()
    me = factory.deserialize_my_user(ready["user"])
    assert me.id == discord.bot_user.id and me.is_bot
    guild = factory.deserialize_gateway_guild(discord.guild_payload(discord.guild_id), user_id=me.id)
    assert guild.guild().name == "Teaching Guild"
    assert discord.voice_channel_id in guild.channels()
    roles = guild.roles()
    assert roles[discord.admin_role_id].name == "Bot Admin"
    members = guild.members()
    assert members[discord.admin.id].username == "ada"


def test_application_payload_is_read_by_hikari(discord: FakeDiscord, factory: hikari.api.EntityFactory) -> None:
    application = factory.deserialize_application(discord.application_payload())
    assert application.id == discord.application_id


def test_slash_interaction_with_attachment_is_read_by_hikari(
    discord: FakeDiscord, factory: hikari.api.EntityFactory
) -> None:
    upload = discord.attachment("data.jsonl", b'{"a": 1}\n', "application/jsonl")
    handle = discord.slash("train", options={"data": upload, "suffix": "v1"}, user=discord.admin)
    interaction = factory.deserialize_interaction(handle.payload)
    assert isinstance(interaction, hikari.CommandInteraction)
    assert interaction.command_name == "train"
    assert interaction.guild_id == discord.guild_id
    assert interaction.member is not None
    assert interaction.member.permissions & hikari.Permissions.MANAGE_GUILD
    assert interaction.resolved is not None
    attachment = next(iter(interaction.resolved.attachments.values()))
    assert attachment.filename == "data.jsonl" and attachment.size == 9


def test_dm_autocomplete_component_and_modal_interactions_are_read_by_hikari(
    discord: FakeDiscord, factory: hikari.api.EntityFactory
) -> None:
    dm = factory.deserialize_interaction(discord.slash("ask", options={"question": "hi"}, guild_id=None).payload)
    assert isinstance(dm, hikari.CommandInteraction) and dm.guild_id is None and dm.member is None
    auto = factory.deserialize_interaction(discord.autocomplete("correct", "answer", {"answer": "par"}).payload)
    assert isinstance(auto, hikari.AutocompleteInteraction)
    assert auto.options is not None and auto.options[0].is_focused
    message = Message(
        id=discord.snowflake(),
        channel_id=discord.channel_id,
        guild_id=discord.guild_id,
        author=discord.bot_user,
        content="an answer",
        components=[
            {
                "type": 1,
                "id": 1,
                "components": [{"type": 2, "id": 2, "style": 2, "custom_id": "correct:7", "label": "Correct"}],
            }
        ],
    )
    discord.messages[message.id] = message
    click = factory.deserialize_interaction(discord.click(message, "correct:7").payload)
    assert isinstance(click, hikari.ComponentInteraction) and click.custom_id == "correct:7"
    assert click.message.content == "an answer"
    modal = factory.deserialize_interaction(discord.submit_modal("correction:7", {"corrected": "Paris"}).payload)
    assert isinstance(modal, hikari.ModalInteraction)
    assert modal.components[0].components[0].value == "Paris"


def test_voice_message_create_is_read_by_hikari(discord: FakeDiscord, factory: hikari.api.EntityFactory) -> None:
    voice = discord.attachment("voice-message.ogg", b"OggS", "audio/ogg", duration_secs=1.5, waveform="AAAA")
    payload = discord.post_message("", attachments=[voice], flags=IS_VOICE_MESSAGE)
    message = factory.deserialize_message(payload)
    assert message.flags & hikari.MessageFlag.IS_VOICE_MESSAGE
    assert message.attachments[0].duration == 1.5
    assert message.attachments[0].media_type == "audio/ogg"


async def test_attachments_are_served_over_http(discord: FakeDiscord, factory: hikari.api.EntityFactory) -> None:
    upload = discord.attachment("notes.csv", b"question,answer\n", "text/csv")
    handle = discord.slash("train", options={"data": upload})
    interaction = factory.deserialize_interaction(handle.payload)
    assert isinstance(interaction, hikari.CommandInteraction) and interaction.resolved is not None
    attachment = next(iter(interaction.resolved.attachments.values()))
    assert await attachment.read() == b"question,answer\n"


@pytest.mark.parametrize("compress", ["zstd-stream", "zlib-stream", None])
async def test_gateway_compresses_as_the_client_asks(discord: FakeDiscord, compress: str | None) -> None:
    query = {"v": "10", "encoding": "json"} | ({"compress": compress} if compress else {})
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"ws://127.0.0.1:{discord.port}/gateway", params=query) as ws,
    ):
        message = await ws.receive(timeout=5)
    if compress == "zstd-stream":
        assert message.type == aiohttp.WSMsgType.BINARY
        hello = json.loads(zstd.ZstdDecompressor().decompress(message.data))
    elif compress == "zlib-stream":
        assert message.type == aiohttp.WSMsgType.BINARY and message.data.endswith(b"\x00\x00\xff\xff")
        hello = json.loads(zlib.decompressobj().decompress(message.data))
    else:
        assert message.type == aiohttp.WSMsgType.TEXT
        hello = json.loads(message.data)
    assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0


async def test_a_wrong_or_revoked_token_gets_discords_401(discord: FakeDiscord) -> None:
    url = f"{discord.rest_url}/gateway/bot"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Authorization": f"Bot {discord.token}"}) as ok:
            assert ok.status == 200
        for headers in ({}, {"Authorization": f"Bot {discord.token}x"}, {"Authorization": discord.token}):
            async with http.get(url, headers=headers) as rejected:
                assert rejected.status == 401
                assert await rejected.json() == {"message": "401: Unauthorized", "code": 0}
        discord.revoke_token()
        async with http.get(f"{discord.rest_url}/users/@me", headers={"Authorization": f"Bot {discord.token}"}) as gone:
            assert gone.status == 401
    rest = hikari.RESTApp(url=discord.rest_url)
    await rest.start()
    try:
        async with rest.acquire(discord.token, hikari.TokenType.BOT) as client:
            with pytest.raises(hikari.UnauthorizedError):
                await client.fetch_gateway_bot_info()
    finally:
        await rest.close()


@pytest.mark.parametrize(
    ("problem", "code"), [("revoked token", 4004), ("message content intent off", 4014)], ids=["4004", "4014"]
)
async def test_the_gateway_closes_like_discord_on_a_bad_identify(discord: FakeDiscord, problem: str, code: int) -> None:
    if problem == "revoked token":
        discord.valid_tokens = set()
    else:
        discord.privileged_intents = 0
    intents = hikari.Intents.GUILDS | hikari.Intents.MESSAGE_CONTENT
    identify = {"op": 2, "d": {"token": discord.token, "intents": int(intents), "properties": {}}}
    async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://127.0.0.1:{discord.port}/gateway") as ws:
        hello = await ws.receive(timeout=5)
        assert json.loads(hello.data)["op"] == 10
        await ws.send_bytes(json.dumps(identify).encode())
        closed = await ws.receive(timeout=5)
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == code
    assert discord.closes == [code] and not discord.ready.is_set()


async def test_threads_start_on_channel_messages_only_and_are_read_by_hikari(
    discord: FakeDiscord, factory: hikari.api.EntityFactory
) -> None:
    answer = discord._new_message(discord.channel_id, discord.guild_id, {"content": "hi"}, [])
    ephemeral = discord._new_message(discord.channel_id, discord.guild_id, {"content": "hi", "flags": 64}, [])
    response = discord._start_thread(discord.channel_id, answer.id, {"name": "Talk", "auto_archive_duration": 1440})
    assert response.status == 201
    thread = factory.deserialize_guild_thread(discord.threads[answer.id])
    assert isinstance(thread, hikari.GuildPublicThread)
    assert thread.id == answer.id and thread.parent_id == discord.channel_id and thread.owner_id == discord.bot_user.id
    assert discord._start_thread(discord.channel_id, answer.id, {"name": "Talk"}).status == 400  # one per message
    assert discord._start_thread(discord.channel_id, ephemeral.id, {"name": "Talk"}).status == 404
    assert discord._start_thread(answer.id, answer.id, {"name": "Talk"}).status == 400  # no thread in a thread
    assert discord._start_thread(discord.channel_id, answer.id + 1, {"name": ""}).status == 404
    in_thread = discord.slash("ask", options={"question": "hi"}, channel_id=answer.id)
    interaction = factory.deserialize_interaction(in_thread.payload)
    assert isinstance(interaction, hikari.CommandInteraction) and interaction.channel_id == answer.id
    assert interaction.channel.type == hikari.ChannelType.GUILD_PUBLIC_THREAD


class Shard:
    """A raw gateway connection (no compression): what one shard of a bot sees."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def identify(self, discord: FakeDiscord, shard: list[int] | None) -> dict[str, Any]:
        """Send IDENTIFY; the first frame after it (READY, Invalid Session) or the close."""
        intents = int(hikari.Intents.GUILDS | hikari.Intents.GUILD_MESSAGES | hikari.Intents.DM_MESSAGES)
        identify: dict[str, Any] = {"token": discord.token, "intents": intents, "properties": {}}
        if shard is not None:
            identify["shard"] = shard
        await self.ws.send_bytes(json.dumps({"op": 2, "d": identify}).encode())
        return await self.next()

    async def next(self) -> dict[str, Any]:
        message = await self.ws.receive(timeout=5)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return {"close": message.data}
        frame = json.loads(message.data)
        self.frames.append(frame)
        return frame

    async def dispatch_named(self, name: str) -> dict[str, Any]:
        while (frame := await self.next()).get("t") != name:
            pass
        return frame


async def connect(http: aiohttp.ClientSession, discord: FakeDiscord) -> Shard:
    shard = Shard(await http.ws_connect(f"ws://127.0.0.1:{discord.port}/gateway"))
    assert (await shard.next())["op"] == 10
    return shard


async def test_gateway_bot_recommends_shards_and_reports_max_concurrency(discord: FakeDiscord) -> None:
    discord.shard_count, discord.max_concurrency = 2, 2
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bot {discord.token}"}
        async with http.get(f"{discord.rest_url}/gateway/bot", headers=headers) as response:
            body = await response.json()
    factory = hikari.GatewayBot(discord.token, banner=None, logs=None).entity_factory
    info = factory.deserialize_gateway_bot_info(body)
    assert info.shard_count == 2 and info.session_start_limit.max_concurrency == 2


async def test_each_guild_is_dispatched_on_its_shard_only_and_dms_on_shard_zero(discord: FakeDiscord) -> None:
    assert {shard_of(discord.guild_id, 2), shard_of(discord.other_guild_id, 2)} == {0, 1}
    discord.max_concurrency = 2  # shards 0 and 1 are in different buckets: both may identify at once
    async with aiohttp.ClientSession() as http:
        zero, one = await connect(http, discord), await connect(http, discord)
        ready = await asyncio.gather(zero.identify(discord, [0, 2]), one.identify(discord, [1, 2]))
        assert [r["d"]["shard"] for r in ready] == [[0, 2], [1, 2]]
        assert [[g["id"] for g in r["d"]["guilds"]] for r in ready] == [
            [str(discord.guild_id)],
            [str(discord.other_guild_id)],
        ]
        assert (await zero.dispatch_named("GUILD_CREATE"))["d"]["id"] == str(discord.guild_id)
        assert (await one.dispatch_named("GUILD_CREATE"))["d"]["id"] == str(discord.other_guild_id)
        there = discord.slash("ask", options={"question": "one?"}, guild_id=discord.other_guild_id)
        here = discord.slash("ask", options={"question": "zero?"})
        dm = discord.slash("ask", options={"question": "dm?"}, guild_id=None)
        assert (await one.dispatch_named("INTERACTION_CREATE"))["d"]["id"] == str(there.id)
        assert (await zero.dispatch_named("INTERACTION_CREATE"))["d"]["id"] == str(here.id)
        assert (await zero.dispatch_named("INTERACTION_CREATE"))["d"]["id"] == str(dm.id)
        discord.post_message("in the other guild", guild_id=discord.other_guild_id)
        assert (await one.dispatch_named("MESSAGE_CREATE"))["d"]["content"] == "in the other guild"
        # Nothing of the other shard's guild reached either connection.
        for shard, guild in ((zero, discord.guild_id), (one, discord.other_guild_id)):
            dispatched = [f for f in shard.frames if f.get("op") == 0]
            guilds = {f["d"]["id"] if f["t"] == "GUILD_CREATE" else f["d"].get("guild_id") for f in dispatched}
            assert guilds <= {None, str(guild)}
        assert discord.identified[0][:2] == (0, 2) and discord.identified[1][:2] == (1, 2)
        await zero.ws.close()
        await one.ws.close()


@pytest.mark.parametrize(
    ("shard", "code"), [([2, 2], 4010), ([0, 0], 4010), ([-1, 2], 4010), ("0", 4010), ([0, 1], 4011)]
)
async def test_an_invalid_shard_or_too_many_guilds_on_one_closes_like_discord(
    discord: FakeDiscord, shard: Any, code: int
) -> None:
    discord.max_guilds_per_shard = 1  # both guilds on one shard would be too many: sharding is required
    async with aiohttp.ClientSession() as http:
        answer = await (await connect(http, discord)).identify(discord, shard)
    assert answer == {"close": code} and discord.closes == [code] and not discord.ready.is_set()


async def test_identifies_faster_than_max_concurrency_per_window_get_invalid_session(discord: FakeDiscord) -> None:
    discord.identify_window_s = 0.3  # Discord's is 5 s; the rule is the same
    async with aiohttp.ClientSession() as http:
        first = await (await connect(http, discord)).identify(discord, [0, 2])
        assert first["t"] == "READY"
        # max_concurrency 1: one bucket, so shard 1 must wait for shard 0's window to pass.
        too_soon = await connect(http, discord)
        assert await too_soon.identify(discord, [1, 2]) == {"op": 9, "d": False}
        assert discord.identify_refusals == [(1, 2)] and len(discord.sessions) == 1
        await asyncio.sleep(0.3)  # the window itself is what is tested: wait it out
        again = await too_soon.identify(discord, [1, 2])
        assert again["t"] == "READY" and again["d"]["shard"] == [1, 2]
        # With max_concurrency 2, shard 0 and 1 are different buckets; only the same bucket waits.
        discord.max_concurrency, started = 2, time.monotonic()
        discord._last_identify.clear()
        assert (await (await connect(http, discord)).identify(discord, [0, 2]))["t"] == "READY"
        assert (await (await connect(http, discord)).identify(discord, [1, 2]))["t"] == "READY"
        assert (await (await connect(http, discord)).identify(discord, [0, 2])) == {"op": 9, "d": False}
        assert time.monotonic() - started < discord.identify_window_s
