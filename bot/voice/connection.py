"""A voice connection as hikari's `VoiceConnection`: voice gateway v8, UDP, transport crypto, DAVE and recovery.

Join with `connect(bot, guild, channel)` (hikari's `bot.voice.connect_to` with this class, undeafened so the bot
hears). The session owns a `Player` (`session.player`) and a `Receiver` (`session.receiver`) and reports its state
through `session.status()`.

Recovery: a dropped or dead socket (no heartbeat ack within the watchdog time) and close code 4015 are resumed
with `seq_ack` so the server replays what was missed; 4006 (session no longer valid) and 4017 (DAVE required) start
a fresh session with a new key; a voice-server change (VOICE_SERVER_UPDATE) reconnects to the new endpoint; 4014
(moved or kicked) waits briefly for a new server and otherwise ends the session. Every step is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, Self, cast

import aiohttp
import attrs
import hikari
from hikari.api import VoiceComponent, VoiceConnection

from bot.voice.dave import BINARY_OPS, JSON_OPS, DaveState, client_binary, parse_server_binary
from bot.voice.player import Player
from bot.voice.receiver import Receiver, ReceiverStats
from bot.voice.sender import FrameSender
from bot.voice.settings import EncryptionMode, VoiceSettings
from bot.voice.transport import (
    NonceExhausted,
    TransportCipher,
    choose_mode,
    discovery_request,
    parse_discovery_response,
    rtp_header,
)

_log = logging.getLogger(__name__)

GATEWAY_VERSION = 8
# Close codes (discord-api-docs, voice close event codes).
SESSION_INVALID = 4006
DISCONNECTED = 4014
SERVER_CRASHED = 4015
DAVE_REQUIRED = 4017
_FATAL = {4001, 4002, 4003, 4004, 4005, 4011, 4012, 4016, 4020, 4021, 4022}
# Codes the driver closes its own socket with, to say why it is reconnecting.
_WATCHDOG = 4900
_SERVER_CHANGED = 4901
_REKEY = 4902


class VoiceConnectFailed(Exception):
    """The voice handshake did not complete (bad token, unreachable server, no common encryption mode)."""


@attrs.frozen
class VoiceStatus:
    """What `/voice status` shows."""

    connected: bool
    guild_id: int
    channel_id: int
    latency_ms: float | None
    encryption_mode: str | None
    dave_protocol_version: int
    privacy_code: str | None
    dave_epoch: int | None
    heard_users: list[int]
    packets_sent: int
    reconnects: int
    received: ReceiverStats


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes], None]) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.discovery: asyncio.Future[bytes] | None = None
        self._on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self.discovery is not None and not self.discovery.done() and len(data) == 74 and data[:2] == b"\x00\x02":
            self.discovery.set_result(data)
            return
        self._on_datagram(data)

    def error_received(self, exc: Exception) -> None:
        _log.warning("voice UDP error: %s", exc)


class VoiceSession(VoiceConnection):
    """One guild's voice connection."""

    def __init__(
        self,
        *,
        channel_id: hikari.Snowflake,
        endpoint: str,
        guild_id: hikari.Snowflake,
        on_close: Callable[[Self], Awaitable[None]],
        owner: VoiceComponent,
        session_id: str,
        shard_id: int,
        token: str,
        user_id: hikari.Snowflake,
        settings: VoiceSettings,
    ) -> None:
        self._channel_id = channel_id
        self._endpoint = endpoint
        self._guild_id = guild_id
        self._on_close = on_close
        self._owner = owner
        self._session_id: str = session_id
        self._shard_id = shard_id
        self._token = token
        self._user_id = user_id
        self.settings = settings
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._udp: _Udp | None = None
        self._server_addr: tuple[str, int] | None = None
        self._ssrc = 0
        self._seq_ack = -1
        self._cipher: TransportCipher | None = None
        self._mode: EncryptionMode | None = None
        self._rtp_seq = 0
        self._rtp_ts = 0
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._server_changed = asyncio.Event()
        self._session_changed = asyncio.Event()
        self.rejoin: Callable[[], Awaitable[None]] | None = None
        self._last_ack = time.monotonic()
        self._latency_ms: float | None = None
        self._speaking = False
        self.reconnects = 0
        self.packets_sent = 0
        self.dave = DaveState(int(user_id), int(channel_id), self._send_json, self._send_binary)
        self.receiver = Receiver(settings.jitter_frames, settings.max_queued_frames, settings.speaker_idle_ms)
        self.sender = FrameSender(self._transmit, name=f"voice-sender-{guild_id}")
        self.player = Player(
            self.send_opus,
            self._set_speaking,
            settings.trailing_silence_frames,
            schedule=self._schedule_frame,
            cancel_scheduled=self.sender.cancel,
            lead_s=settings.send_lead_ms / 1000,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: socket.socket | None = None

    # ---- hikari's VoiceConnection ----
    @classmethod
    async def initialize(  # noqa: PLR0917 - hikari's signature
        cls,
        channel_id: hikari.Snowflake,
        endpoint: str,
        guild_id: hikari.Snowflake,
        on_close: Callable[[Self], Awaitable[None]],
        owner: VoiceComponent,
        session_id: str,
        shard_id: int,
        token: str,
        user_id: hikari.Snowflake,
        **kwargs: object,
    ) -> Self:
        settings = kwargs.get("settings")
        rejoin = kwargs.get("rejoin")
        session = cls(
            channel_id=channel_id,
            endpoint=endpoint,
            guild_id=guild_id,
            on_close=on_close,
            owner=owner,
            session_id=session_id,
            shard_id=shard_id,
            token=token,
            user_id=user_id,
            settings=settings if isinstance(settings, VoiceSettings) else VoiceSettings(),
        )
        if callable(rejoin):
            session.rejoin = cast("Callable[[], Awaitable[None]]", rejoin)
        await session._start()
        return session

    @property
    def channel_id(self) -> hikari.Snowflake:
        return self._channel_id

    @property
    def guild_id(self) -> hikari.Snowflake:
        return self._guild_id

    @property
    def is_alive(self) -> bool:
        return not self._closed.is_set()

    @property
    def shard_id(self) -> int:
        return self._shard_id

    @property
    def owner(self) -> VoiceComponent:
        return self._owner

    async def disconnect(self) -> None:
        """Leave: stop playing, close the socket and UDP, end the streams."""
        if self._closed.is_set():
            return
        self._closed.set()
        self.player.stop()
        if self._ws is not None and not self._ws.closed:
            await self._ws.close(code=1000)
        if self._supervisor is not None and self._supervisor is not asyncio.current_task():
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        self._teardown()
        _log.info("voice: left channel %s in guild %s", self._channel_id, self._guild_id)
        await self._on_close(self)

    async def join(self) -> None:
        await self._closed.wait()

    async def notify(self, event: hikari.VoiceEvent) -> None:
        if isinstance(event, hikari.VoiceServerUpdateEvent) and event.endpoint is not None:
            if event.endpoint != self._endpoint or event.token != self._token:
                _log.info("voice: server changed to %s; reconnecting", event.endpoint)
                self._endpoint, self._token = event.endpoint, event.token
                self._server_changed.set()
                if self._ws is not None and not self._ws.closed:
                    await self._ws.close(code=_SERVER_CHANGED)
        elif isinstance(event, hikari.VoiceStateUpdateEvent) and event.state.user_id == self._user_id:
            if event.state.session_id != self._session_id:
                self._session_id = str(event.state.session_id)
                self._session_changed.set()
            if event.state.channel_id is None:
                _log.info("voice: removed from the channel in guild %s", self._guild_id)
                await self.disconnect()
            else:
                self._channel_id = event.state.channel_id

    # ---- state ----
    def status(self) -> VoiceStatus:
        return VoiceStatus(
            connected=self._ready.is_set() and not self._closed.is_set(),
            guild_id=int(self._guild_id),
            channel_id=int(self._channel_id),
            latency_ms=self._latency_ms,
            encryption_mode=self._mode,
            dave_protocol_version=self.dave.protocol_version,
            privacy_code=self.dave.privacy_code,
            dave_epoch=self.dave.epoch,
            heard_users=self.receiver.heard_users,
            packets_sent=self.packets_sent,
            reconnects=self.reconnects,
            received=self.receiver.stats,
        )

    async def wait_ready(self) -> None:
        await self._ready.wait()

    # ---- sending ----
    def send_opus(self, opus: bytes) -> None:
        """Send one 20 ms Opus frame now (DAVE, then transport encryption, from the sender thread)."""
        self._schedule_frame(opus, time.monotonic())

    def _schedule_frame(self, opus: bytes, due: float) -> None:
        # DAVE encryption stays on the loop, where the MLS state changes; the sender thread only seals and sends.
        self.sender.schedule(self.dave.encrypt(opus), due)

    def _transmit(self, payload: bytes) -> None:
        """Runs on the sender thread: RTP header, transport seal, UDP write. Dropped while (re)connecting."""
        cipher, sock = self._cipher, self._sock
        if not self._ready.is_set() or self._closed.is_set() or cipher is None or sock is None:
            return
        header = rtp_header(self._rtp_seq, self._rtp_ts, self._ssrc)
        self._rtp_seq = (self._rtp_seq + 1) & 0xFFFF
        self._rtp_ts = (self._rtp_ts + 960) & 0xFFFFFFFF
        try:
            packet = cipher.seal(header, payload)
        except NonceExhausted:
            _log.warning("voice: transport nonce exhausted; reconnecting for a new key")
            self._ready.clear()
            if self._loop is not None and self._ws is not None:
                ws = self._ws
                self._loop.call_soon_threadsafe(lambda: self._loop and self._loop.create_task(ws.close(code=_REKEY)))
            return
        try:
            sock.send(packet)
        except OSError as exc:  # socket replaced or closed by a reconnect; the frame is simply lost
            _log.debug("voice: frame not sent: %s", exc)
            return
        self.packets_sent += 1

    def _set_speaking(self, speaking: bool) -> None:
        self._speaking = speaking
        if self._ws is not None and not self._ws.closed and self._ready.is_set():
            payload: dict[str, object] = {"speaking": 1 if speaking else 0, "delay": 0, "ssrc": self._ssrc}
            asyncio.get_running_loop().create_task(self._send_json(5, payload))

    async def _send_json(self, op: int, data: dict[str, object]) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(json.dumps({"op": op, "d": data}))

    async def _send_binary(self, op: int, payload: bytes) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_bytes(client_binary(op, payload))

    # ---- connection lifecycle ----
    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._http = aiohttp.ClientSession()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())
        ready = asyncio.ensure_future(self._ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._supervisor}, timeout=self.settings.handshake_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            self._closed.set()
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._supervisor
            self._teardown()
            raise VoiceConnectFailed("the voice server did not complete the handshake")

    def _teardown(self) -> None:
        self.sender.close()
        self.receiver.close()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        self._udp = None
        if self._http is not None:
            asyncio.get_running_loop().create_task(self._http.close())
            self._http = None

    async def _supervise(self) -> None:
        resume = False
        failures = 0
        ticker = asyncio.get_running_loop().create_task(self._tick())
        try:
            while not self._closed.is_set():
                code = await self._run_socket(resume)
                if self._closed.is_set():
                    return
                self._ready.clear()
                self.reconnects += 1
                if code in _FATAL:
                    _log.error("voice: server closed with %s; giving up on guild %s", code, self._guild_id)
                    break
                if code == DISCONNECTED:
                    _log.info("voice: disconnected (4014: moved or kicked); waiting for a new voice server")
                    try:
                        await asyncio.wait_for(self._server_changed.wait(), self.settings.handshake_timeout_s)
                    except TimeoutError:
                        break
                    resume = False
                elif code == SESSION_INVALID:
                    _log.warning("voice: session no longer valid (4006); starting a fresh session")
                    await self._renew_session()
                    resume = False
                elif code == DAVE_REQUIRED:
                    _log.warning("voice: server requires DAVE (4017); starting a fresh session announcing DAVE")
                    resume = False
                elif code in (_SERVER_CHANGED, _REKEY):
                    resume = False
                else:
                    reason = {SERVER_CRASHED: "voice server crashed (4015)", _WATCHDOG: "watchdog: socket dead"}.get(
                        code or 0, f"socket closed ({code})"
                    )
                    _log.warning("voice: %s; resuming", reason)
                    resume = self._cipher is not None
                self._server_changed.clear()
                failures = failures + 1 if not self._ready.is_set() else 0
                if failures > self.settings.max_reconnects:
                    _log.error("voice: %d reconnects failed in a row; leaving guild %s", failures, self._guild_id)
                    break
            if not self._closed.is_set():
                self._supervisor = None
                await self.disconnect()
        finally:
            ticker.cancel()

    async def _renew_session(self) -> None:
        """Ask the main gateway for a new voice session id (the old one is dead) and wait for it to arrive."""
        if self.rejoin is None:
            return
        self._session_changed.clear()
        await self.rejoin()
        try:
            await asyncio.wait_for(self._session_changed.wait(), self.settings.handshake_timeout_s)
        except TimeoutError:
            _log.warning("voice: no new voice session from the gateway; retrying with the old one")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.settings.speaker_idle_ms / 2000)
            self.receiver.tick()

    async def _run_socket(self, resume: bool) -> int | None:
        assert self._http is not None
        endpoint = self._endpoint if "://" in self._endpoint else f"wss://{self._endpoint}"
        if self.settings.plain_ws_on_loopback and endpoint.startswith("wss://127.0.0.1:"):
            endpoint = "ws://" + endpoint.removeprefix("wss://")
        url = f"{endpoint.rstrip('/')}/?v={GATEWAY_VERSION}"
        try:
            ws = await self._http.ws_connect(url, autoping=True, max_msg_size=0)
        except (aiohttp.ClientError, OSError) as exc:
            _log.warning("voice: cannot reach %s: %s", self._endpoint, exc)
            await asyncio.sleep(1)
            return None
        self._ws = ws
        heartbeat: asyncio.Task[None] | None = None
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    payload = json.loads(message.data)
                    if payload.get("seq") is not None:
                        self._seq_ack = payload["seq"]
                    op, data = payload["op"], payload.get("d")
                    if op == 8:
                        heartbeat = asyncio.get_running_loop().create_task(
                            self._heartbeat(ws, data["heartbeat_interval"] / 1000)
                        )
                        await (self._send_resume() if resume else self._send_identify())
                    else:
                        await self._on_json(op, data)
                elif message.type == aiohttp.WSMsgType.BINARY:
                    seq, op, body = parse_server_binary(message.data)
                    self._seq_ack = seq
                    if op in BINARY_OPS:
                        try:
                            await self.dave.handle_binary(op, body)
                        except Exception:
                            # A malformed MLS message must not take the voice connection down with it.
                            _log.warning("voice: DAVE op %d could not be handled", op, exc_info=True)
                elif message.type == aiohttp.WSMsgType.ERROR:
                    break
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
            if not ws.closed:
                await ws.close()
        return ws.close_code

    async def _send_identify(self) -> None:
        self._seq_ack = -1
        await self._send_json(
            0,
            {
                "server_id": str(self._guild_id),
                "user_id": str(self._user_id),
                "session_id": self._session_id,
                "token": self._token,
                "max_dave_protocol_version": self.dave.max_version,
            },
        )

    async def _send_resume(self) -> None:
        await self._send_json(
            7,
            {
                "server_id": str(self._guild_id),
                "session_id": self._session_id,
                "token": self._token,
                "seq_ack": self._seq_ack,
            },
        )

    async def _heartbeat(self, ws: aiohttp.ClientWebSocketResponse, interval: float) -> None:
        self._last_ack = time.monotonic()
        while not ws.closed:
            if time.monotonic() - self._last_ack > max(self.settings.watchdog_s, 2 * interval):
                _log.warning(
                    "voice: no heartbeat ack for %.1f s; treating the socket as dead", self.settings.watchdog_s
                )
                await ws.close(code=_WATCHDOG)
                return
            await asyncio.sleep(min(interval, self.settings.watchdog_s / 2))
            if ws.closed:
                return
            nonce = int(time.time() * 1000)
            await ws.send_str(json.dumps({"op": 3, "d": {"t": nonce, "seq_ack": self._seq_ack}}))

    async def _on_json(self, op: int, data: Any) -> None:
        if op == 2:
            await self._on_ready(data)
        elif op == 4:
            self._mode = data["mode"]
            assert self._mode is not None
            self._cipher = TransportCipher(self._mode, bytes(data["secret_key"]))
            self.receiver.cipher = self._cipher
            await self.dave.start(int(data.get("dave_protocol_version") or 0))
            self.receiver.dave_decrypt = self.dave.decrypt
            self._ready.set()
            _log.info(
                "voice: connected to channel %s (mode %s, DAVE v%d)",
                self._channel_id,
                self._mode,
                self.dave.protocol_version,
            )
        elif op == 6:
            sent = cast("dict[str, object]", data).get("t") if isinstance(data, dict) else data
            self._last_ack = time.monotonic()
            if isinstance(sent, int):
                self._latency_ms = max(0.0, time.time() * 1000 - sent)
        elif op == 9:
            self._ready.set()
            _log.info("voice: session resumed")
        elif op == 5:
            self.receiver.map_ssrc(int(data["ssrc"]), int(data["user_id"]))
        elif op == 11:
            self.dave.other_users.update(int(u) for u in data["user_ids"])
        elif op == 13:
            user = int(data["user_id"])
            self.dave.other_users.discard(user)
            self.receiver.user_left(user)
        elif op in JSON_OPS:
            try:
                await self.dave.handle_json(op, data)
            except Exception:
                _log.warning("voice: DAVE op %d could not be handled", op, exc_info=True)

    async def _on_ready(self, data: Any) -> None:
        self._ssrc = int(data["ssrc"])
        self._server_addr = (str(data["ip"]), int(data["port"]))
        self._mode = choose_mode(list(data["modes"]), self.settings.preferred_mode)
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(self._server_addr)
        transport, protocol = await loop.create_datagram_endpoint(lambda: _Udp(self.receiver.datagram), sock=sock)
        self._sock = sock
        protocol.transport = transport
        self._udp = protocol
        protocol.discovery = loop.create_future()
        transport.sendto(discovery_request(self._ssrc))
        address, port = parse_discovery_response(await asyncio.wait_for(protocol.discovery, 5))
        await self._send_json(1, {"protocol": "udp", "data": {"address": address, "port": port, "mode": self._mode}})


async def connect(
    bot: hikari.GatewayBot,
    guild: hikari.SnowflakeishOr[hikari.Guild],
    channel: hikari.SnowflakeishOr[hikari.GuildVoiceChannel],
    settings: VoiceSettings | None = None,
) -> VoiceSession:
    """Join a voice channel undeafened (so the bot can hear) and return the ready session."""
    guild_id, channel_id = hikari.Snowflake(guild), hikari.Snowflake(channel)

    async def rejoin() -> None:
        # Re-sending the voice state makes Discord issue a new voice session (VOICE_STATE_UPDATE, forwarded by
        # hikari to VoiceSession.notify) — the only cure for 4006.
        shard = bot.shards[hikari.snowflakes.calculate_shard_id(bot, guild_id)]
        await shard.update_voice_state(guild_id, channel_id, self_deaf=False, self_mute=False)

    return await bot.voice.connect_to(
        guild, channel, VoiceSession, deaf=False, mute=False, settings=settings or VoiceSettings(), rejoin=rejoin
    )
