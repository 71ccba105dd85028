"""A voice connection as hikari's `VoiceConnection`: voice gateway v8, UDP, transport crypto, DAVE and recovery.

Join with `connect(bot, guild, channel)` (hikari's `bot.voice.connect_to` with this class, undeafened so the bot
hears). The session owns a `Player` (`session.player`) and a `Receiver` (`session.receiver`) and reports its state
through `session.status()`.

Recovery, as discord.py, pycord, discord.js and songbird handle it: a dropped or dead socket (no heartbeat ack
within the watchdog time), 4015 and any error in the connection loop (IP discovery timeout, malformed frame) are
retried with backoff, resuming with `seq_ack` where the session still holds, else with a fresh IDENTIFY (and a new
IP discovery); 4009 (session timed out) starts a fresh session; 4006 (session no longer valid) leaves and rejoins
through the main gateway and waits for the new voice server; 4014 and 4022 (moved, kicked, call ended) wait for a
new voice server; a voice-server change reconnects to the new endpoint. 4017 (DAVE required: identical retries
cannot help), the other fatal codes and too many failed attempts in a row end the session, and `state` /
`status().ended_reason` say why. The driver's own closes use 4000, which keeps the session resumable. Every step is
logged. What to do after a close is decided by `bot.voice.reconnect_policy`; this module does it.

UDP: a keepalive every `udp_keepalive_s` from the moment the socket exists (Discord stops sending audio to a
client it has not heard from); SPEAKING announces the ssrc on every new session, before any audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Self, cast

import aiohttp
import attrs
import hikari
from hikari.api import VoiceComponent, VoiceConnection

from bot.voice.dave import BINARY_OPS, JSON_OPS, DaveState, client_binary, parse_server_binary
from bot.voice.dave_recovery import DaveRecovery
from bot.voice.gateway_codes import VoiceOp
from bot.voice.player import Player
from bot.voice.receiver import Receiver, ReceiverStats
from bot.voice.reconnect_policy import Closed, OwnClose, Recovery, Step, backoff_s, decide
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
# The code the driver closes its own socket with when it means to come back (resume or re-identify): a normal
# close (1000) would end the session on Discord's side. Why it closed is kept in `_own_close`.
OWN_CLOSE = 4000

ConnectionState = Literal["connecting", "connected", "reconnecting", "ended"]


class VoiceConnectFailed(Exception):
    """The voice handshake did not complete (bad token, unreachable server, no common encryption mode)."""


@attrs.frozen
class VoiceStatus:
    """What `/voice status` shows."""

    connected: bool
    # connecting, connected, reconnecting or ended; `ended_reason` says why an ended session ended.
    state: str
    ended_reason: str | None
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
    # Times the bot re-keyed DAVE because members' frames kept failing to decrypt, and rejoined when that did not help.
    dave_reinitialisations: int = 0
    dave_rejoins: int = 0


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
        clock: Callable[[], float] = time.monotonic,
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
        # Leaves and rejoins the channel through the main gateway (4006); set by `connect`.
        self.rejoin: Callable[[int], Awaitable[None]] | None = None
        self._rejoining = False
        self._own_close: OwnClose | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self.keepalives_sent = 0
        self.state: ConnectionState = "connecting"
        self._state_changed = asyncio.Event()
        self.ended_reason: str | None = None
        self._last_ack = time.monotonic()
        self._latency_ms: float | None = None
        self._speaking = False
        self.reconnects = 0
        self.packets_sent = 0
        recovery = DaveRecovery(settings.dave_failure_limit, settings.dave_recovery_cooldown_s)
        self.dave = DaveState(
            int(user_id), int(channel_id), self._send_json, self._send_binary, recovery=recovery, clock=clock
        )
        self.dave.on_rejoin = self._rejoin_for_dave
        self._dave_rejoin: asyncio.Task[None] | None = None
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
        clock = kwargs.get("clock")
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
            clock=cast("Callable[[], float]", clock) if callable(clock) else time.monotonic,
        )
        if callable(rejoin):
            session.rejoin = cast("Callable[[int], Awaitable[None]]", rejoin)
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
            changed = event.endpoint != self._endpoint or event.token != self._token
            self._endpoint, self._token = event.endpoint, event.token
            # Also what a wait after 4006, 4014 or 4022 is waiting for, even when the server stayed the same.
            self._server_changed.set()
            if changed and self._ws is not None and not self._ws.closed and self._ready.is_set():
                _log.info("voice: voice server is now %s; reconnecting", event.endpoint)
                await self._close_own(self._ws, OwnClose.SERVER_CHANGED)
        elif isinstance(event, hikari.VoiceStateUpdateEvent) and event.state.user_id == self._user_id:
            if event.state.session_id != self._session_id:
                self._session_id = str(event.state.session_id)
                self._session_changed.set()
            if event.state.channel_id is None:
                if self._rejoining:
                    return  # our own leave on the way to rejoining (4006)
                _log.info("voice: removed from the channel in guild %s", self._guild_id)
                await self.disconnect()
            elif event.state.channel_id != self._channel_id:
                _log.info("voice: moved to channel %s in guild %s", event.state.channel_id, self._guild_id)
                self._channel_id = event.state.channel_id

    # ---- state ----
    def status(self) -> VoiceStatus:
        return VoiceStatus(
            connected=self._ready.is_set() and not self._closed.is_set(),
            state=self.state,
            ended_reason=self.ended_reason,
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
            dave_reinitialisations=self.dave.recovery.reinitialisations,
            dave_rejoins=self.dave.recovery.rejoins,
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
                self._loop.call_soon_threadsafe(
                    lambda: self._loop and self._loop.create_task(self._close_own(ws, OwnClose.NEW_KEY))
                )
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
            asyncio.get_running_loop().create_task(self._send_speaking())

    async def _send_speaking(self) -> None:
        """SPEAKING with the current state; it also tells Discord our ssrc, which it needs before any audio."""
        await self._send_json(
            VoiceOp.SPEAKING, {"speaking": 1 if self._speaking else 0, "delay": 0, "ssrc": self._ssrc}
        )

    def _rejoin_for_dave(self) -> None:
        """Re-keying did not bring members' audio back: leave and rejoin for a new voice session and DAVE group."""
        ws = self._ws
        if ws is not None and not ws.closed and self._loop is not None:
            self._dave_rejoin = self._loop.create_task(self._close_own(ws, OwnClose.DAVE_REJOIN))

    async def _close_own(self, ws: aiohttp.ClientWebSocketResponse, reason: OwnClose) -> None:
        self._own_close = reason
        await ws.close(code=OWN_CLOSE)

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
        self._close_udp()
        if self._http is not None:
            asyncio.get_running_loop().create_task(self._http.close())
            self._http = None

    async def _supervise(self) -> None:
        resume = False
        failures = 0
        ticker = asyncio.get_running_loop().create_task(self._tick())
        try:
            while not self._closed.is_set():
                self._own_close = None
                self._ready.clear()
                failed: Exception | None = None
                try:
                    code = await self._run_socket(resume)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failed, code = exc, None
                    if self._ws is not None and not self._ws.closed:
                        await self._close_own(self._ws, OwnClose.FAILED)
                if self._closed.is_set():
                    return
                reached_ready = self._ready.is_set()
                self._ready.clear()
                self._set_state("reconnecting")
                self.reconnects += 1
                failures = 0 if reached_ready else failures + 1
                closed = Closed(
                    code=code,
                    own=self._own_close,
                    error=None if failed is None else str(failed),
                    reached_ready=reached_ready,
                    had_session=self._cipher is not None,
                    failures=failures,
                    max_failures=self.settings.max_reconnects,
                )
                recovery = decide(closed)
                ended = await self._recover(recovery, failed)
                if ended is not None:
                    self._end(ended)
                    break
                resume = recovery.resume
                self._server_changed.clear()
                if failures:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._closed.wait(), backoff_s(failures, self.settings.reconnect_backoff_s)
                        )
            if not self._closed.is_set():
                self._supervisor = None
                await self.disconnect()
        finally:
            ticker.cancel()

    def _set_state(self, state: ConnectionState) -> None:
        self.state = state
        self._state_changed.set()

    async def wait_state(self, *states: ConnectionState) -> None:
        """Returns once the connection is in one of `states` (use with a timeout)."""
        while self.state not in states:
            self._state_changed.clear()
            await self._state_changed.wait()

    def _end(self, reason: str) -> None:
        self.ended_reason = reason
        self._set_state("ended")
        # A warning, not an error: the session says so through its status, and the bot goes on.
        _log.warning("voice: session in guild %s ended: %s", self._guild_id, reason)

    async def _recover(self, recovery: Recovery, failed: Exception | None) -> str | None:
        """Logs why the socket ended and waits for what recovery needs; returns why the session ends, if it does."""
        if recovery.step is Step.END:
            return recovery.ended
        _log.log(logging.WARNING if recovery.warn else logging.INFO, "voice: %s", recovery.note, exc_info=failed)
        if recovery.step is Step.AWAIT_SERVER and not await self._wait_for_server():
            return recovery.ended
        if recovery.step is Step.REJOIN and not await self._rejoin():
            return recovery.ended
        return None

    async def _wait_for_server(self) -> bool:
        if self._server_changed.is_set():
            return True
        try:
            await asyncio.wait_for(self._server_changed.wait(), self.settings.handshake_timeout_s)
        except TimeoutError:
            return False
        return True

    async def _rejoin(self) -> bool:
        """Leave and rejoin through the main gateway (the only cure for 4006); wait for the new voice server."""
        if self.rejoin is None:
            return False
        self._rejoining = True
        self._server_changed.clear()
        try:
            await self.rejoin(int(self._channel_id))
            return await self._wait_for_server()
        finally:
            self._rejoining = False

    async def _tick(self) -> None:
        # Supervised: if one tick failed and ended this task, speakers would never go idle and held frames never
        # reach anyone again.
        while True:
            await asyncio.sleep(self.settings.speaker_idle_ms / 2000)
            try:
                self.receiver.tick()
            except Exception:
                self.receiver.stats.receive_errors += 1
                _log.warning("voice: receive tick failed; going on", exc_info=True)

    async def _run_socket(self, resume: bool) -> int | None:
        assert self._http is not None
        endpoint = self._endpoint if "://" in self._endpoint else f"wss://{self._endpoint}"
        if self.settings.plain_ws_on_loopback and endpoint.startswith("wss://127.0.0.1:"):
            endpoint = "ws://" + endpoint.removeprefix("wss://")
        url = f"{endpoint.rstrip('/')}/?v={GATEWAY_VERSION}"
        ws = await self._http.ws_connect(url, autoping=True, max_msg_size=0)
        self._ws = ws
        heartbeat: asyncio.Task[None] | None = None
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    payload = json.loads(message.data)
                    if payload.get("seq") is not None:
                        self._seq_ack = payload["seq"]
                    op, data = payload["op"], payload.get("d")
                    if op == VoiceOp.HELLO:
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
                await self._close_own(ws, self._own_close or OwnClose.SOCKET_ERROR)
        return None if self._own_close is not None else ws.close_code

    async def _send_identify(self) -> None:
        self._seq_ack = -1
        self.dave.forget_members()
        await self._send_json(
            VoiceOp.IDENTIFY,
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
            VoiceOp.RESUME,
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
                await self._close_own(ws, OwnClose.WATCHDOG)
                return
            await asyncio.sleep(min(interval, self.settings.watchdog_s / 2))
            if ws.closed:
                return
            nonce = int(time.time() * 1000)
            await ws.send_str(json.dumps({"op": VoiceOp.HEARTBEAT, "d": {"t": nonce, "seq_ack": self._seq_ack}}))

    async def _on_json(self, op: int, data: Any) -> None:
        if op == VoiceOp.READY:
            await self._on_ready(data)
        elif op == VoiceOp.SESSION_DESCRIPTION:
            self._mode = data["mode"]
            assert self._mode is not None
            self._cipher = TransportCipher(self._mode, bytes(data["secret_key"]))
            self.receiver.cipher = self._cipher
            # Announce the ssrc (and whether we are mid-answer) before any audio of this session leaves.
            await self._send_speaking()
            await self.dave.start(int(data.get("dave_protocol_version") or 0), int(self._channel_id))
            self.receiver.dave_decrypt = self.dave.decrypt
            self._ready.set()
            self._set_state("connected")
            _log.info(
                "voice: connected to channel %s (mode %s, DAVE v%d)",
                self._channel_id,
                self._mode,
                self.dave.protocol_version,
            )
        elif op == VoiceOp.HEARTBEAT_ACK:
            sent = cast("dict[str, object]", data).get("t") if isinstance(data, dict) else data
            self._last_ack = time.monotonic()
            if isinstance(sent, int):
                self._latency_ms = max(0.0, time.time() * 1000 - sent)
        elif op == VoiceOp.RESUMED:
            self._ready.set()
            self._set_state("connected")
            _log.info("voice: session resumed")
        elif op == VoiceOp.SPEAKING:
            self.receiver.map_ssrc(int(data["ssrc"]), int(data["user_id"]))
        elif op == VoiceOp.CLIENTS_CONNECT:
            self.dave.other_users.update(int(u) for u in data["user_ids"])
        elif op == VoiceOp.CLIENT_DISCONNECT:
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
        self._close_udp()
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(self._server_addr)
        transport, protocol = await loop.create_datagram_endpoint(lambda: _Udp(self.receiver.datagram), sock=sock)
        self._sock = sock
        protocol.transport = transport
        self._udp = protocol
        self._keepalive = loop.create_task(self._send_keepalives(transport))
        protocol.discovery = loop.create_future()
        transport.sendto(discovery_request(self._ssrc))
        try:
            response = await asyncio.wait_for(protocol.discovery, self.settings.ip_discovery_timeout_s)
        except TimeoutError:
            raise TimeoutError("no answer to UDP IP discovery") from None
        address, port = parse_discovery_response(response)
        await self._send_json(
            VoiceOp.SELECT_PROTOCOL, {"protocol": "udp", "data": {"address": address, "port": port, "mode": self._mode}}
        )

    async def _send_keepalives(self, transport: asyncio.DatagramTransport) -> None:
        # 8 bytes with a counter, as discord.js and songbird send: without them Discord stops sending us audio
        # after a few minutes in which the bot itself said nothing.
        counter = 0
        while not transport.is_closing():
            transport.sendto(struct.pack(">II", counter & 0xFFFFFFFF, 0))
            counter += 1
            self.keepalives_sent += 1
            await asyncio.sleep(self.settings.udp_keepalive_s)

    def _close_udp(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        self._udp = None


async def connect(
    bot: hikari.GatewayBot,
    guild: hikari.SnowflakeishOr[hikari.Guild],
    channel: hikari.SnowflakeishOr[hikari.GuildVoiceChannel],
    settings: VoiceSettings | None = None,
) -> VoiceSession:
    """Join a voice channel undeafened (so the bot can hear) and return the ready session."""
    guild_id = hikari.Snowflake(guild)

    async def rejoin(channel_id: int) -> None:
        # Leaving and joining again makes Discord issue a new voice session and voice server (VOICE_STATE_UPDATE and
        # VOICE_SERVER_UPDATE, forwarded by hikari to VoiceSession.notify) — the only cure for 4006.
        shard = bot.shards[hikari.snowflakes.calculate_shard_id(bot, guild_id)]
        await shard.update_voice_state(guild_id, None)
        await shard.update_voice_state(guild_id, channel_id, self_deaf=False, self_mute=False)

    return await bot.voice.connect_to(
        guild, channel, VoiceSession, deaf=False, mute=False, settings=settings or VoiceSettings(), rejoin=rejoin
    )
