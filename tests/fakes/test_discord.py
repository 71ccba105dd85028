"""The fake Discord's payloads are what hikari expects: each builder is read back by hikari's own deserializers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import hikari
import pytest

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

from tests.fakes.discord import IS_VOICE_MESSAGE, VIEW_CHANNEL, FakeDiscord, Message, shard_of


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


def test_a_message_command_is_read_by_hikari_and_offered_only_on_messages_the_user_sees(
    discord: FakeDiscord, factory: hikari.api.EntityFactory
) -> None:
    discord.commands[discord.guild_id] = [
        discord._stored_command({"name": "Ask about this message", "type": 3}, discord.guild_id)  # pyright: ignore[reportPrivateUsage]
    ]
    picture = discord.attachment("cat.png", b"png", "image/png")
    posted = discord.post_message("look at this", attachments=[picture])
    message = discord.messages[int(posted["id"])]
    interaction = factory.deserialize_interaction(discord.message_command("Ask about this message", message).payload)
    assert isinstance(interaction, hikari.CommandInteraction)
    assert interaction.command_type == hikari.CommandType.MESSAGE
    assert interaction.target_id == message.id and interaction.resolved is not None
    target = interaction.resolved.messages[hikari.Snowflake(message.id)]
    assert target.content == "look at this" and target.attachments[0].url == picture["url"]

    hidden = discord.make_user("hidden")
    discord.deny(discord.channel_id, VIEW_CHANNEL, user=hidden)
    with pytest.raises(AssertionError, match="cannot see"):
        discord.message_command("Ask about this message", message, user=hidden)
    stale = factory.deserialize_interaction(
        discord.message_command("Ask about this message", message, user=hidden, unchecked=True).payload
    )
    assert isinstance(stale, hikari.CommandInteraction) and stale.member is not None
    assert not stale.member.permissions & hikari.Permissions.VIEW_CHANNEL


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


Frames = Callable[[], Awaitable[dict[str, Any]]]


@contextlib.asynccontextmanager
async def zlib_stream_shard(discord: FakeDiscord) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, Frames]]:
    """An identified shard on a zlib-stream connection (one compression stream for all its frames), past its
    GUILD_CREATE; with what reads its next frame."""
    query = {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    inflate = zlib.decompressobj()
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"ws://127.0.0.1:{discord.port}/gateway", params=query) as ws,
    ):

        async def frame() -> dict[str, Any]:
            message = await ws.receive(timeout=5)
            return json.loads(inflate.decompress(message.data))

        assert (await frame())["op"] == 10
        identify = {"token": discord.token, "intents": int(hikari.Intents.GUILDS), "properties": {}}
        await ws.send_bytes(json.dumps({"op": 2, "d": identify}).encode())
        while (await frame()).get("t") != "GUILD_CREATE":
            pass
        yield ws, frame


async def test_dispatches_made_at_once_wait_then_arrive_in_order_on_one_compressed_stream(discord: FakeDiscord) -> None:
    """A benchmark's burst: held until the block ends, then every interaction arrives, in the order made, after one
    dispatched just before (whose send was still pending), each decoding on the connection's one zlib stream."""
    async with zlib_stream_shard(discord) as (ws, frame):
        before = discord.slash("ask", options={"question": "first"})
        with discord.at_once():
            burst = [discord.slash("ask", options={"question": f"q{i}"}) for i in range(20)]
            # A heartbeat's ACK comes back while the burst is held: only the interaction made before it came first.
            await ws.send_bytes(json.dumps({"op": 1, "d": None}).encode())
            seen: list[dict[str, Any]] = []
            while (f := await frame())["op"] != 11:
                seen.append(f)
            assert [f["d"].get("id") for f in seen if f["t"] == "INTERACTION_CREATE"] == [str(before.id)]
            assert all(h.sent is None for h in burst)
        arrived = [await frame() for _ in burst]
    assert [f["d"]["id"] for f in arrived] == [str(h.id) for h in burst]
    assert [f["s"] for f in arrived] == list(range(seen[-1]["s"] + 1, seen[-1]["s"] + 21))
    assert all(h.sent is not None for h in burst)


async def test_dispatches_held_by_a_block_that_raised_are_sent_all_the_same(discord: FakeDiscord) -> None:
    """Their sequence numbers are taken: a client that never got them would see a gap."""
    async with zlib_stream_shard(discord) as (_, frame):
        with pytest.raises(RuntimeError, match="the block failed"), discord.at_once():
            held = discord.slash("ask", options={"question": "q"})
            raise RuntimeError("the block failed")
        while (f := await frame()).get("t") != "INTERACTION_CREATE":
            pass
    assert f["d"]["id"] == str(held.id) and held.sent is not None


async def test_a_dm_is_offered_only_global_commands_whose_contexts_include_dms(discord: FakeDiscord) -> None:
    # Registered as hikari does (PUT of the whole list): contexts 0 is GUILD, 1 BOT_DM, 2 PRIVATE_CHANNEL.
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bot {discord.token}"}
        base = f"{discord.rest_url}/applications/{discord.application_id}"
        commands = [
            {"name": "servers", "type": 1, "description": "In servers", "contexts": [0]},
            {"name": "anywhere", "type": 1, "description": "Anywhere"},
        ]
        async with http.put(f"{base}/commands", json=commands, headers=headers) as response:
            assert response.status == 200
            assert [c["contexts"] for c in await response.json()] == [[0], None]
        guild_commands = [{"name": "here", "type": 1, "description": "In this server"}]
        async with http.put(f"{base}/guilds/{discord.guild_id}/commands", json=guild_commands, headers=headers) as r:
            assert r.status == 200
    for name in ("servers", "anywhere", "here"):  # in the server, all three are offered
        assert discord.slash(name).payload["data"]["name"] == name
    assert discord.slash("anywhere", guild_id=None).payload["context"] == 1
    with pytest.raises(AssertionError, match="does not offer it in a DM"):
        discord.slash("servers", guild_id=None)
    with pytest.raises(AssertionError, match="does not offer it in a DM"):
        discord.slash("here", guild_id=None)
    with pytest.raises(AssertionError, match="does not offer it in a DM"):
        discord.autocomplete("servers", "x", {"x": "a"}, guild_id=None)


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
    async with aiohttp.ClientSession() as http:
        first = await (await connect(http, discord)).identify(discord, [0, 2])
        assert first["t"] == "READY"
        # max_concurrency 1: one bucket, so shard 1 must wait for shard 0's window to pass.
        too_soon = await connect(http, discord)
        assert await too_soon.identify(discord, [1, 2]) == {"op": 9, "d": False}
        assert discord.identify_refusals == [(1, 2)] and len(discord.sessions) == 1
        discord.advance(discord.identify_window_s)  # Discord's 5 s window passes, on the fake's clock
        again = await too_soon.identify(discord, [1, 2])
        assert again["t"] == "READY" and again["d"]["shard"] == [1, 2]
        # With max_concurrency 2, shard 0 and 1 are different buckets; only the same bucket waits.
        discord.max_concurrency = 2
        discord._last_identify.clear()
        assert (await (await connect(http, discord)).identify(discord, [0, 2]))["t"] == "READY"
        assert (await (await connect(http, discord)).identify(discord, [1, 2]))["t"] == "READY"
        assert (await (await connect(http, discord)).identify(discord, [0, 2])) == {"op": 9, "d": False}
        # Both buckets identified within one window of the fake's clock, and the third was refused inside it.
        assert discord.identified[-1][2] - discord.identified[-2][2] < discord.identify_window_s
        assert discord.identify_refusals == [(1, 2), (0, 2)]


# ----- what Discord refuses, through hikari's own REST client ---------------------------------------------------------


@pytest.fixture
async def rest(discord: FakeDiscord) -> AsyncIterator[hikari.api.RESTClient]:
    app = hikari.RESTApp(url=discord.rest_url)
    await app.start()
    async with app.acquire(discord.token, hikari.TokenType.BOT) as client:
        yield client
    await app.close()


def too_long(limit: int) -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}]}


def row(*custom_ids: str, label: str = "Go") -> hikari.api.MessageActionRowBuilder:
    built = hikari.impl.MessageActionRowBuilder()
    for custom_id in custom_ids:
        built.add_interactive_button(hikari.ButtonStyle.PRIMARY, custom_id, label=label)
    return built


Send = Callable[[FakeDiscord, hikari.api.RESTClient, dict[str, Any]], Awaitable[object]]


async def channel_create(discord: FakeDiscord, rest: hikari.api.RESTClient, fields: dict[str, Any]) -> object:
    return await rest.create_message(discord.channel_id, **fields)


async def channel_edit(discord: FakeDiscord, rest: hikari.api.RESTClient, fields: dict[str, Any]) -> object:
    message = await rest.create_message(discord.channel_id, "draft")
    return await rest.edit_message(discord.channel_id, message, **fields)


async def callback_message(discord: FakeDiscord, rest: hikari.api.RESTClient, fields: dict[str, Any]) -> object:
    handle = discord.slash("ask", options={"question": "hi"})
    kind = hikari.ResponseType.MESSAGE_CREATE
    return await rest.create_interaction_response(handle.id, handle.token, kind, **fields)


async def callback_update(discord: FakeDiscord, rest: hikari.api.RESTClient, fields: dict[str, Any]) -> object:
    sent = await rest.create_message(discord.channel_id, "pick one", component=row("pick:1"))
    handle = discord.click(discord.messages[sent.id], "pick:1")
    kind = hikari.ResponseType.MESSAGE_UPDATE
    return await rest.create_interaction_response(handle.id, handle.token, kind, **fields)


async def deferred(discord: FakeDiscord, rest: hikari.api.RESTClient) -> str:
    handle = discord.slash("ask", options={"question": "hi"})
    await rest.create_interaction_response(handle.id, handle.token, hikari.ResponseType.DEFERRED_MESSAGE_CREATE)
    return handle.token


async def followup(discord: FakeDiscord, rest: hikari.api.RESTClient, fields: dict[str, Any]) -> object:
    return await rest.execute_webhook(discord.application_id, await deferred(discord, rest), **fields)


async def original_edit(discord: FakeDiscord, rest: hikari.api.RESTClient, fields: dict[str, Any]) -> object:
    return await rest.edit_interaction_response(discord.application_id, await deferred(discord, rest), **fields)


async def followup_edit(discord: FakeDiscord, rest: hikari.api.RESTClient, fields: dict[str, Any]) -> object:
    token = await deferred(discord, rest)
    sent = await rest.execute_webhook(discord.application_id, token, "draft")
    return await rest.edit_webhook_message(discord.application_id, token, sent, **fields)


PATHS: dict[str, Send] = {
    "channel message": channel_create,
    "channel message edit": channel_edit,
    "callback 4": callback_message,
    "callback 7": callback_update,
    "follow-up": followup,
    "@original edit": original_edit,
    "follow-up edit": followup_edit,
}
CALLBACKS = {"callback 4", "callback 7"}  # their errors are under "data", as the message is the callback's data

# (what, fields exactly at Discord's limit, fields one over it, the `errors` Discord answers with)
LIMITS: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("content", {"content": "x" * 2000}, {"content": "x" * 2001}, {"content": too_long(2000)}),
    (
        "action rows",
        {"components": [row(f"r:{i}") for i in range(5)]},
        {"components": [row(f"r:{i}") for i in range(6)]},
        {"components": too_long(5)},
    ),
    (
        "buttons in a row",
        {"component": row(*(f"b:{i}" for i in range(5)))},
        {"component": row(*(f"b:{i}" for i in range(6)))},
        {"components": {"0": {"components": too_long(5)}}},
    ),
    (
        "custom id",
        {"component": row("c" * 100)},
        {"component": row("c" * 101)},
        {"components": {"0": {"components": {"0": {"custom_id": too_long(100)}}}}},
    ),
    (
        "button label",
        {"component": row("b:1", label="l" * 80)},
        {"component": row("b:1", label="l" * 81)},
        {"components": {"0": {"components": {"0": {"label": too_long(80)}}}}},
    ),
    (
        "embeds",
        {"embeds": [hikari.Embed(description="e") for _ in range(10)]},
        {"embeds": [hikari.Embed(description="e") for _ in range(11)]},
        {"embeds": too_long(10)},
    ),
    (
        "embed description",
        {"embed": hikari.Embed(description="d" * 4096)},
        {"embed": hikari.Embed(description="d" * 4097)},
        {"embeds": {"0": {"description": too_long(4096)}}},
    ),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("what", "at_limit", "over", "errors"), LIMITS, ids=[limit[0] for limit in LIMITS])
async def test_a_message_one_over_a_limit_is_refused_like_discord_and_one_at_it_is_sent(
    discord: FakeDiscord,
    rest: hikari.api.RESTClient,
    path: str,
    what: str,
    at_limit: dict[str, Any],
    over: dict[str, Any],
    errors: dict[str, Any],
) -> None:
    send = PATHS[path]
    await send(discord, rest, at_limit)
    with pytest.raises(hikari.BadRequestError) as refused:
        await send(discord, rest, over)
    assert refused.value.status == 400 and refused.value.code == 50035
    assert refused.value.message == "Invalid Form Body"
    assert refused.value.errors == ({"data": errors} if path in CALLBACKS else errors)


@pytest.mark.parametrize("path", PATHS)
async def test_an_empty_message_is_refused_like_discord_and_one_character_is_sent(
    discord: FakeDiscord, rest: hikari.api.RESTClient, path: str
) -> None:
    send = PATHS[path]
    await send(discord, rest, {"content": "x"})
    with pytest.raises(hikari.BadRequestError) as refused:
        # An update (callback 7) on a message with a button, and every edit, empties the message only if all goes.
        await send(discord, rest, {"content": " ", "components": [], "embeds": []})
    assert (refused.value.status, refused.value.code) == (400, 50006)
    assert refused.value.message == "Cannot send an empty message"


async def test_the_raw_error_body_is_shaped_like_discords(discord: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bot {discord.token}"}
        url = f"{discord.rest_url}/channels/{discord.channel_id}/messages"
        async with http.post(url, json={"content": "x" * 2001}, headers=headers) as response:
            body = await response.json()
    assert response.status == 400
    assert body == {"message": "Invalid Form Body", "code": 50035, "errors": {"content": too_long(2000)}}


async def test_a_message_to_an_unknown_channel_is_refused_with_10003(
    discord: FakeDiscord, rest: hikari.api.RESTClient
) -> None:
    await rest.create_message(discord.channel_id, "here")
    with pytest.raises(hikari.NotFoundError) as refused:
        await rest.create_message(discord.snowflake(), "nowhere")
    assert (refused.value.status, refused.value.code, refused.value.message) == (404, 10003, "Unknown Channel")


async def test_editing_another_users_message_is_refused_with_50005(
    discord: FakeDiscord, rest: hikari.api.RESTClient
) -> None:
    mine = await rest.create_message(discord.channel_id, "mine")
    await rest.edit_message(discord.channel_id, mine, "still mine")
    theirs = discord.post_message("a user's words")
    with pytest.raises(hikari.ForbiddenError) as refused:
        await rest.edit_message(discord.channel_id, int(theirs["id"]), "put in their mouth")
    assert (refused.value.status, refused.value.code) == (403, 50005)
    assert discord.messages[int(theirs["id"])].content == "a user's words"


async def test_an_interaction_not_answered_within_3_s_is_unknown(
    discord: FakeDiscord, rest: hikari.api.RESTClient
) -> None:
    in_time, too_late = discord.slash("ask", options={"question": "a"}), discord.slash("ask", options={"question": "b"})
    discord.advance(discord.ack_window_s - 0.5)
    await rest.create_interaction_response(in_time.id, in_time.token, hikari.ResponseType.MESSAGE_CREATE, "ok")
    discord.advance(1)
    with pytest.raises(hikari.NotFoundError) as refused:
        await rest.create_interaction_response(too_late.id, too_late.token, hikari.ResponseType.MESSAGE_CREATE, "ok")
    assert (refused.value.status, refused.value.code, refused.value.message) == (404, 10062, "Unknown interaction")
    with pytest.raises(hikari.NotFoundError) as no_webhook:  # its token never becomes a webhook either
        await rest.execute_webhook(discord.application_id, too_late.token, "late")
    assert no_webhook.value.code == 10015
    assert too_late.responses == [] and [e.kind for e in in_time.responses] == ["callback"]


@pytest.mark.parametrize("path", ["follow-up", "@original edit", "follow-up edit"])
async def test_an_interaction_token_stops_working_after_15_minutes(
    discord: FakeDiscord, rest: hikari.api.RESTClient, path: str
) -> None:
    token = await deferred(discord, rest)
    sent = await rest.execute_webhook(discord.application_id, token, "first")
    app = discord.application_id
    act: dict[str, Callable[[], Awaitable[object]]] = {
        "follow-up": lambda: rest.execute_webhook(app, token, "later"),
        "@original edit": lambda: rest.edit_interaction_response(app, token, "later"),
        "follow-up edit": lambda: rest.edit_webhook_message(app, token, sent, "later"),
    }
    discord.advance(discord.token_lifetime_s - 1)
    await act[path]()
    discord.advance(2)
    with pytest.raises(hikari.UnauthorizedError) as refused:
        await act[path]()
    assert (refused.value.status, refused.value.code, refused.value.message) == (401, 50027, "Invalid Webhook Token")


def modal_row(custom_id: str = "field", label: str = "Field") -> hikari.api.ModalActionRowBuilder:
    return hikari.impl.ModalActionRowBuilder().add_text_input(custom_id, label)


# (what, modal at Discord's limit, one over it, the `errors` under "data")
MODAL_LIMITS: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("title", {"title": "t" * 45}, {"title": "t" * 46}, {"title": too_long(45)}),
    ("custom id", {"custom_id": "m" * 100}, {"custom_id": "m" * 101}, {"custom_id": too_long(100)}),
    (
        "rows",
        {"components": [modal_row(f"f{i}") for i in range(5)]},
        {"components": [modal_row(f"f{i}") for i in range(6)]},
        {"components": too_long(5)},
    ),
    (
        "text input label",
        {"components": [modal_row(label="l" * 45)]},
        {"components": [modal_row(label="l" * 46)]},
        {"components": {"0": {"components": {"0": {"label": too_long(45)}}}}},
    ),
    (
        "text input custom id",
        {"components": [modal_row("i" * 100)]},
        {"components": [modal_row("i" * 101)]},
        {"components": {"0": {"components": {"0": {"custom_id": too_long(100)}}}}},
    ),
]


@pytest.mark.parametrize(("what", "at_limit", "over", "errors"), MODAL_LIMITS, ids=[m[0] for m in MODAL_LIMITS])
async def test_a_modal_one_over_a_limit_is_refused_like_discord_and_one_at_it_opens(
    discord: FakeDiscord,
    rest: hikari.api.RESTClient,
    what: str,
    at_limit: dict[str, Any],
    over: dict[str, Any],
    errors: dict[str, Any],
) -> None:
    base: dict[str, Any] = {"title": "Correct", "custom_id": "correction:1", "components": [modal_row()]}
    opened, refused_one = discord.slash("correct"), discord.slash("correct")
    await rest.create_modal_response(opened.id, opened.token, **(base | at_limit))
    assert opened.modal is not None
    with pytest.raises(hikari.BadRequestError) as refused:
        await rest.create_modal_response(refused_one.id, refused_one.token, **(base | over))
    assert (refused.value.code, refused.value.errors) == (50035, {"data": errors})
    assert refused_one.responses == []


async def test_autocomplete_choices_over_discords_limits_are_refused(
    discord: FakeDiscord, rest: hikari.api.RESTClient
) -> None:
    def choices(n: int, name_length: int = 5) -> list[hikari.api.AutocompleteChoiceBuilder]:
        named = [(f"{i}:" + "n" * name_length)[:name_length] for i in range(n)]
        return [hikari.impl.AutocompleteChoiceBuilder(name=name, value=f"v{i}") for i, name in enumerate(named)]

    at_limit = discord.autocomplete("correct", "answer", {"answer": "p"})
    await rest.create_autocomplete_response(at_limit.id, at_limit.token, choices(25, 100))
    assert len(at_limit.choices) == 25
    for over, errors in (
        (choices(26), {"choices": too_long(25)}),
        (choices(1, 101), {"choices": {"0": {"name": too_long(100)}}}),
    ):
        handle = discord.autocomplete("correct", "answer", {"answer": "p"})
        with pytest.raises(hikari.BadRequestError) as refused:
            await rest.create_autocomplete_response(handle.id, handle.token, over)
        assert (refused.value.code, refused.value.errors) == (50035, {"data": errors})


@pytest.mark.parametrize("path", ["channel message", "callback 4", "follow-up"])
async def test_a_message_of_only_a_file_or_only_an_embed_is_not_empty(
    discord: FakeDiscord, rest: hikari.api.RESTClient, path: str
) -> None:
    await PATHS[path](discord, rest, {"attachment": hikari.Bytes(b"RIFF", "answer.wav", mimetype="audio/wav")})
    await PATHS[path](discord, rest, {"embed": hikari.Embed(title="Voice")})
    sent = [m for m in discord.messages.values() if m.author.id == discord.bot_user.id]
    assert [m.attachments[0].filename for m in sent if m.attachments] == ["answer.wav"]
    assert [e["title"] for m in sent for e in m.embeds] == ["Voice"]


async def test_channel_history_pages_like_discord_and_is_read_by_hikari(
    discord: FakeDiscord, factory: hikari.api.EntityFactory
) -> None:
    seeded = discord.seed_history(discord.other_channel_id, [f"message {i}" for i in range(250)])
    discord.history_rate = 1000  # this test is about pages, not buckets
    headers = {"Authorization": f"Bot {discord.token}"}
    url = f"{discord.rest_url}/channels/{discord.other_channel_id}/messages"
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(url, params={"limit": "100"}) as newest:
            page = await newest.json()
            assert newest.headers["X-RateLimit-Bucket"] and "X-RateLimit-Reset-After" in newest.headers
        assert [int(m["id"]) for m in page] == [m.id for m in reversed(seeded[-100:])]  # newest first
        read = factory.deserialize_message(page[0])
        assert read.content == "message 249" and read.author.id == discord.member.id
        async with http.get(url, params={"after": str(seeded[9].id), "limit": "5"}) as after:
            assert [int(m["id"]) for m in await after.json()] == [m.id for m in reversed(seeded[10:15])]
        async with http.get(url, params={"before": str(seeded[3].id)}) as before:
            assert [int(m["id"]) for m in await before.json()] == [m.id for m in reversed(seeded[:3])]
        async with http.get(url, params={"limit": "101"}) as too_many:
            assert too_many.status == 400 and (await too_many.json())["code"] == 50035
        discord.deny(discord.other_channel_id, 1 << 16, user=discord.bot_user)  # Read Message History
        async with http.get(url) as hidden:
            assert hidden.status == 403 and (await hidden.json())["code"] == 50001


async def test_history_over_its_rate_limit_gets_429(discord: FakeDiscord) -> None:
    discord.history_window_s = 60.0
    url = f"{discord.rest_url}/channels/{discord.channel_id}/messages"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {discord.token}"}) as http:
        for left in range(discord.history_rate - 1, -1, -1):
            async with http.get(url) as ok:
                assert ok.status == 200 and ok.headers["X-RateLimit-Remaining"] == str(left)
        async with http.get(url) as over:
            assert over.status == 429 and float((await over.json())["retry_after"]) > 0
    assert len(discord.rate_limited) == 1


async def test_pins_edits_and_deletes_are_read_by_hikari(
    discord: FakeDiscord, factory: hikari.api.EntityFactory
) -> None:
    first, second, third = discord.seed_history(discord.channel_id, ["rules", "faq", "chatter"])
    discord.pin(first)
    discord.pin(second)
    url = f"{discord.rest_url}/channels/{discord.channel_id}/messages/pins"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {discord.token}"}) as http:
        async with http.get(url, params={"limit": "1"}) as newest:
            body = await newest.json()
        assert body["has_more"] is True
        pinned = factory.deserialize_pinned_message(body["items"][0])
        assert pinned.message.id == second.id and pinned.message.is_pinned
        async with http.get(url, params={"before": body["items"][0]["pinned_at"]}) as older:
            rest = await older.json()
        assert [int(i["message"]["id"]) for i in rest["items"]] == [first.id] and rest["has_more"] is False
        async with http.get(url, params={"limit": "51"}) as too_many:
            assert too_many.status == 400
    discord.edit_user_message(third, "chatter, edited", dispatch=False)
    update = factory.deserialize_partial_message(discord._user_message_payload(third))
    assert update.content == "chatter, edited" and update.edited_timestamp is not None
    assert update.member is not None and not update.is_pinned


def slash_command(**texts: Any) -> dict[str, Any]:
    option = {"type": 3, "name": "question", "description": "What you want to know"}
    return {"type": 1, "name": "ask", "description": "Ask the bot a question", "options": [option], **texts}


@pytest.mark.parametrize(
    ("command", "errors"),
    [
        (
            slash_command(description_localizations={"russian": "Задать вопрос"}),
            {
                "0": {
                    "description_localizations": {
                        "russian": {"_errors": [{"code": "LOCALE_INVALID", "message": "Invalid locale: russian"}]}
                    }
                }
            },
        ),
        (
            slash_command(description_localizations={"ru": "ы" * 101}),
            {
                "0": {
                    "description_localizations": {
                        "ru": {
                            "_errors": [
                                {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}
                            ]
                        }
                    }
                }
            },
        ),
        (
            slash_command(description_localizations={"ru": ""}),
            {
                "0": {
                    "description_localizations": {
                        "ru": {
                            "_errors": [
                                {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}
                            ]
                        }
                    }
                }
            },
        ),
        (
            slash_command(name_localizations={"ru": "Спросить бота"}),
            {
                "0": {
                    "name_localizations": {
                        "ru": {
                            "_errors": [
                                {"code": "APPLICATION_COMMAND_INVALID_NAME", "message": "Command name is invalid"}
                            ]
                        }
                    }
                }
            },
        ),
        (
            slash_command(description=""),
            {
                "0": {
                    "description": {
                        "_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}]
                    }
                }
            },
        ),
        (
            {"type": 3, "name": "Ask", "description": "", "description_localizations": {"ru": "Спросить"}},
            {
                "0": {
                    "description_localizations": {
                        "_errors": [
                            {"code": "BASE_TYPE_BAD_FORMAT", "message": "Only slash commands have descriptions"}
                        ]
                    }
                }
            },
        ),
        (
            slash_command(
                options=[
                    {
                        "type": 3,
                        "name": "scope",
                        "description": "Where",
                        "choices": [{"name": "here", "value": "here", "name_localizations": {"ru-RU": "здесь"}}],
                    }
                ]
            ),
            {
                "0": {
                    "options": {
                        "0": {
                            "choices": {
                                "0": {
                                    "name_localizations": {
                                        "ru-RU": {
                                            "_errors": [{"code": "LOCALE_INVALID", "message": "Invalid locale: ru-RU"}]
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            },
        ),
    ],
    ids=[
        "unknown locale",
        "description over 100",
        "empty description",
        "name with a space",
        "no description",
        "message command description",
        "choice in an unknown locale",
    ],
)
async def test_commands_are_refused_like_discord_unless_names_descriptions_and_locales_are_valid(
    discord: FakeDiscord, command: dict[str, Any], errors: dict[str, Any]
) -> None:
    good = slash_command(
        description_localizations={"ru": "Задать вопрос боту", "en-GB": "Ask the bot"},
        name_localizations={"en-US": "ask"},
    )
    good["options"][0]["description_localizations"] = {"ru": "Что вы хотите узнать", "uk": "Що ви хочете дізнатися"}
    message = {"type": 3, "name": "Ask about this message", "name_localizations": {"ru": "Спросить об этом"}}
    url = f"{discord.rest_url}/applications/{discord.application_id}/commands"
    headers = {"Authorization": f"Bot {discord.token}"}
    async with aiohttp.ClientSession() as http:
        async with http.put(url, json=[good, message], headers=headers) as response:
            assert response.status == 200
        stored = discord.commands[None][0]
        assert stored["description_localizations"] == {"ru": "Задать вопрос боту", "en-GB": "Ask the bot"}
        async with http.put(url, json=[command], headers=headers) as response:
            body = await response.json()
    assert response.status == 400
    assert body == {"message": "Invalid Form Body", "code": 50035, "errors": errors}
    assert discord.commands[None][0] == stored  # the refused overwrite changed nothing


async def test_a_guild_is_fetched_with_its_preferred_locale(discord: FakeDiscord, rest: hikari.api.RESTClient) -> None:
    discord.guild_locales[discord.guild_id] = "ru"
    guild = await rest.fetch_guild(discord.guild_id)
    assert guild.preferred_locale == hikari.Locale.RU and guild.name == "Teaching Guild"
    with pytest.raises(hikari.NotFoundError):
        await rest.fetch_guild(discord.snowflake())
