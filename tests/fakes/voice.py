"""A loopback Discord voice server (voice gateway v8 websocket + UDP) written from Discord's documentation.

Independent of bot.voice on purpose: its own RTP parsing, its own `_rtpsize` AEAD handling, its own framing of
DAVE's binary opcodes. It records what the client sent (identify, select protocol, heartbeats, speaking, DAVE
frames, decrypted Opus frames, UDP keepalives, close codes) and can send audio as another user, drop the socket,
close with a code, and play the DAVE server's part as far as an external-sender package and opcode framing go.

It is as strict as Discord where a real call would break: a second IDENTIFY closes with 4005, an unknown
encryption mode with 4016, missed heartbeats with 4009 (and that session cannot be resumed), a session closed with
4006 stays invalid (IDENTIFY or RESUME with it gets 4006 again); audio from an ssrc never announced with SPEAKING
disconnects the client (4014), and without UDP keepalives (any client datagram) for `keepalive_timeout_s` it stops
sending audio to the client. It sends what Discord sends: a fractional v8 heartbeat interval, op 11 (who is in the
call) after IDENTIFY, op 25 on its own right after op 4 when DAVE is on, a new ssrc per session, padded and
padding-only packets, other payload types, RTCP, plain Opus silence frames and multi-element header extensions.

DAVE as the server runs it, with the other members played by `DaveMember`s (a `davey` session each, as Discord
clients run libdave; the server itself only signs external proposals): `form_group` builds the call's group with the
bot; on op 31 the server removes the bot's leaf and re-adds it with the key package that follows (the group's committer
member commits, the bot gets op 30, op 23, op 22); `sole_member_reset` plays a group of one starting over (op 24
epoch 1, then op 21 with transition 0); `downgrade` switches the call to unencrypted (op 21 version 0 → op 23 → op 22).
A member can also speak from a group the bot never joined (`DaveMember.own_group`) or send `CORRUPT_OPUS`.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import time
from collections.abc import Callable
from typing import Any

import av
import davey
import numpy as np
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt, crypto_aead_xchacha20poly1305_ietf_encrypt

AES = "aead_aes256_gcm_rtpsize"
XCHACHA = "aead_xchacha20_poly1305_rtpsize"


def seal(mode: str, key: bytes, header: bytes, payload: bytes, counter: int) -> bytes:
    """header ‖ AEAD(payload, aad=header, nonce=counter padded) ‖ counter — Discord's rtpsize layout."""
    tail = struct.pack(">I", counter)
    if mode == AES:
        return header + AESGCM(key).encrypt(tail + bytes(8), payload, header) + tail
    return header + crypto_aead_xchacha20poly1305_ietf_encrypt(payload, header, tail + bytes(20), key) + tail


def unseal(mode: str, key: bytes, packet: bytes) -> tuple[dict[str, int], bytes]:
    """(header fields incl. the nonce counter, plaintext payload without extension body) of a client packet."""
    csrc = packet[0] & 0x0F
    aad_len = 12 + 4 * csrc
    ext_words = 0
    if packet[0] & 0x10:
        ext_words = struct.unpack_from(">H", packet, aad_len + 2)[0]
        aad_len += 4
    aad, body, tail = packet[:aad_len], packet[aad_len:-4], packet[-4:]
    if mode == AES:
        plain = AESGCM(key).decrypt(tail + bytes(8), body, aad)
    else:
        plain = crypto_aead_xchacha20poly1305_ietf_decrypt(body, aad, tail + bytes(20), key)
    seq, ts, ssrc = struct.unpack_from(">HII", packet, 2)
    fields = {"seq": seq, "ts": ts, "ssrc": ssrc, "pt": packet[1] & 0x7F, "counter": struct.unpack(">I", tail)[0]}
    return fields, plain[4 * ext_words :]


def _tls_vector(data: bytes) -> bytes:
    # MLS variable-length integer prefix (RFC 9420 §2.1.2)
    n = len(data)
    if n < 64:
        return bytes([n]) + data
    if n < 16384:
        return struct.pack(">H", 0x4000 | n) + data
    return struct.pack(">I", 0x80000000 | n) + data


def _read_vector(data: bytes, at: int) -> int:
    """Offset just past the MLS variable-length vector starting at `at`."""
    prefix = data[at] >> 6
    if prefix == 0:
        return at + 1 + data[at]
    if prefix == 1:
        return at + 2 + (struct.unpack_from(">H", data, at)[0] & 0x3FFF)
    return at + 4 + (struct.unpack_from(">I", data, at)[0] & 0x3FFFFFFF)


class ExternalSender:
    """The voice server's MLS external sender (RFC 9420 §12.1.8.1): signs the Add/Remove proposals of op 27.

    Written from RFC 9420 and the DAVE whitepaper with `cryptography` (ciphersuite 2: P-256, ECDSA-SHA256, DER
    signatures); nothing here comes from a DAVE library.
    """

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    def package(self) -> bytes:
        """ExternalSender { signature_key<V>; Credential (basic: type 1, identity<V>) } — the payload of op 25."""
        public = self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return _tls_vector(public) + struct.pack(">H", 1) + _tls_vector(bytes(8))

    def add_proposal(self, group_id: int, epoch: int, key_package: bytes) -> bytes:
        """An MLSMessage (PublicMessage) carrying an Add proposal (type 1) for `key_package`, from external sender 0."""
        return self._signed(group_id, epoch, struct.pack(">H", 1) + key_package)

    def remove_proposal(self, group_id: int, epoch: int, leaf: int) -> bytes:
        """An MLSMessage (PublicMessage) carrying a Remove proposal (type 3) for `leaf`, from external sender 0."""
        return self._signed(group_id, epoch, struct.pack(">HI", 3, leaf))

    def _signed(self, group_id: int, epoch: int, proposal: bytes) -> bytes:
        content = (
            _tls_vector(struct.pack(">Q", group_id))
            + struct.pack(">Q", epoch)
            + bytes([2])  # sender type: external
            + struct.pack(">I", 0)
            + _tls_vector(b"")  # authenticated data
            + bytes([2])  # content type: proposal
            + proposal
        )
        header = struct.pack(">HH", 1, 1)  # mls10, public message
        to_sign = _tls_vector(b"MLS 1.0 FramedContentTBS") + _tls_vector(header + content)
        signature = self._key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        return header + content + _tls_vector(signature)

    def proposals_payload(
        self, group_id: int, epoch: int, key_packages: list[bytes], remove_leaves: tuple[int, ...] = ()
    ) -> bytes:
        """Op 27's payload: operation type append (0), then the vector of proposal messages (removes first)."""
        removes = b"".join(self.remove_proposal(group_id, epoch, leaf) for leaf in remove_leaves)
        messages = removes + b"".join(self.add_proposal(group_id, epoch, kp) for kp in key_packages)
        return bytes([0]) + _tls_vector(messages)


def split_commit_welcome(payload: bytes) -> tuple[bytes, bytes | None]:
    """Op 28's payload: a commit MLSMessage, optionally followed by a bare Welcome (cipher_suite, secrets<V>,
    encrypted_group_info<V>); the split is the offset where such a Welcome parses to exactly the end."""
    marker = struct.pack(">H", 2)  # ciphersuite 2 (DAVE's P-256 suite)
    start = payload.find(marker, 8)
    while start != -1:
        try:
            end = _read_vector(payload, _read_vector(payload, start + 2))
        except (IndexError, struct.error):
            end = -1
        if end == len(payload):
            return payload[:start], payload[start:]
        start = payload.find(marker, start + 1)
    return payload, None


def encode_opus(pcm: bytes) -> list[bytes]:
    """s16le 48 kHz stereo PCM → 20 ms Opus packets."""
    codec = av.CodecContext.create("libopus", "w")
    assert isinstance(codec, av.AudioCodecContext)
    codec.sample_rate, codec.layout, codec.format = 48_000, "stereo", "s16"
    codec.open()
    samples = np.frombuffer(pcm, dtype=np.int16)
    frame_len = 960 * 2
    samples = np.pad(samples, (0, (-len(samples)) % frame_len))
    out: list[bytes] = []
    for i in range(0, len(samples), frame_len):
        frame = av.AudioFrame.from_ndarray(samples[i : i + frame_len].reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48_000, i // 2
        out.extend(bytes(p) for p in codec.encode(frame))
    out.extend(bytes(p) for p in codec.encode(None))
    return out


def decode_opus(frames: list[bytes]) -> bytes:
    """Opus packets → s16le 48 kHz stereo PCM (Discord's 3-byte silence frames decode to silence)."""
    codec = av.CodecContext.create("opus", "r")
    assert isinstance(codec, av.AudioCodecContext)
    codec.sample_rate, codec.layout = 48_000, "stereo"
    codec.open()
    out: list[bytes] = []
    for data in frames:
        for frame in codec.decode(av.Packet(data)):
            arr = frame.to_ndarray()
            if arr.shape[0] == 2:
                arr = arr.T.reshape(-1)
            out.append((np.clip(arr, -1, 1) * 32767).astype(np.int16).tobytes())
    return b"".join(out)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: FakeVoiceServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.server.on_udp(data, (str(addr[0]), int(addr[1])))


OPUS_SILENCE = b"\xf8\xff\xfe"
# A code-3 Opus packet announcing more frames than it carries: a decoder rejects it (a client's corrupt frame).
CORRUPT_OPUS = b"\xff\xff\xff\xff\xff\xff"
KEY_PACKAGE, INVALID_COMMIT_WELCOME = 26, 31


class DaveMember:
    """Another client in the call with its own DAVE session: encrypts what it says, commits what the server asks."""

    def __init__(self, user_id: int, ssrc: int, group_id: int, external_sender: ExternalSender) -> None:
        self.user_id, self.ssrc, self.group_id = user_id, ssrc, group_id
        self._sender = external_sender
        self.session = davey.DaveSession(1, user_id, group_id)
        self.session.set_external_sender(external_sender.package())

    def key_package(self) -> bytes:
        return self.session.get_serialized_key_package()

    def encrypt(self, opus: bytes) -> bytes:
        return self.session.encrypt_opus(opus)

    def commit_adding(self, key_package: bytes, remove_leaves: tuple[int, ...] = ()) -> tuple[bytes, bytes]:
        """(commit, welcome) adding `key_package` (and removing `remove_leaves`); applied to this member's group."""
        epoch = self.session.epoch or 0
        payload = self._sender.proposals_payload(self.group_id, epoch, [key_package], remove_leaves)
        result = self.session.process_proposals(davey.ProposalsOperationType.append, payload[1:], None)
        assert result is not None and result.welcome is not None
        self.session.process_commit(result.commit)
        return result.commit, result.welcome

    def own_group(self) -> None:
        """Start a group of this member's own (with a client that never speaks): keys the bot has never had."""
        bystander = DaveMember(self.user_id + 1, 0, self.group_id, self._sender)
        _, welcome = self.commit_adding(bystander.key_package())
        bystander.session.process_welcome(welcome)

    @property
    def leaves(self) -> int:
        return len(self.session.get_user_ids())


# Close codes the fake uses (discord-api-docs, voice close event codes).
ALREADY_AUTHENTICATED, SESSION_INVALID, SESSION_TIMEOUT = 4005, 4006, 4009
DISCONNECTED, UNKNOWN_MODE = 4014, 4016


class FakeVoiceServer:
    """One voice server on 127.0.0.1; `endpoint` is what VOICE_SERVER_UPDATE would carry."""

    def __init__(
        self,
        *,
        modes: tuple[str, ...] = (XCHACHA, AES),
        dave_version: int = 0,
        heartbeat_ms: float = 41_250.0,
        keepalive_timeout_s: float = 30.0,
        channel_id: int = 0,
    ) -> None:
        self.modes = list(modes)
        self.dave_version = dave_version
        self.heartbeat_ms = float(heartbeat_ms)
        # Discord forgets a client's UDP path (and stops sending it audio) when it sends nothing for this long.
        self.keepalive_timeout_s = keepalive_timeout_s
        # The DAVE MLS group id is the voice channel's id.
        self.channel_id = channel_id
        self.external_sender = ExternalSender()
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.selects: list[dict[str, Any]] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.speaking: list[dict[str, Any]] = []
        self.client_json: list[tuple[int, Any]] = []
        self.client_binary: list[tuple[int, bytes]] = []
        self.client_close_codes: list[int | None] = []
        self.server_close_codes: list[int] = []
        self.violations: list[str] = []
        self.discoveries = 0
        self.answer_discovery = True
        self.keepalives = 0
        self.audio_withheld = 0
        self.packets: list[dict[str, int]] = []
        self.frames: list[bytes] = []
        self.connections = 0
        self.ssrc = 0xC0FFEE
        self.key = b""
        self.mode = ""
        self.session_id: str | None = None
        self.dead_sessions: set[str] = set()
        self._resumable = False
        self._closing = False
        self.answer_heartbeats = True
        self._announced: set[int] = set()
        self._identified = False
        self._last_udp = 0.0
        self._last_heartbeat = 0.0
        self._seq = 0
        self._sent: list[tuple[int, str | bytes]] = []
        self._ws: web.WebSocketResponse | None = None
        self._request: web.Request | None = None
        self._client_addr: tuple[str, int] | None = None
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._udp: _Udp | None = None
        self._counter = 0
        self.port = 0
        self.udp_port = 0
        # Users announced with op 11 after IDENTIFY (Discord says who is already in the call).
        self.present_users: list[int] = []
        # The member whose commits the server relays when it (re-)adds the bot, and the bot's leaf in that group.
        self.committer: DaveMember | None = None
        self.bot_leaf: int | None = None
        self.invalid_commits: list[int] = []
        self.readds = 0
        self._readd_wanted = False
        self._next_transition = 100
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def endpoint(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # pyright: ignore[reportPrivateUsage]
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
        loop = asyncio.get_running_loop()
        transport, udp = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=("127.0.0.1", 0))
        udp.transport = transport
        self._udp = udp
        self.udp_port = udp.transport.get_extra_info("sockname")[1]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        async def loop() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)

    def _note(self) -> None:
        self._changed.set()

    # ---- websocket ----
    async def send_json(self, op: int, data: Any) -> None:
        self._seq += 1
        text = json.dumps({"op": op, "d": data, "seq": self._seq})
        self._sent.append((self._seq, text))
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(text)

    async def send_binary(self, op: int, payload: bytes) -> None:
        self._seq += 1
        frame = struct.pack(">HB", self._seq, op) + payload
        self._sent.append((self._seq, frame))
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_bytes(frame)

    async def send_raw_frame(self, frame: bytes) -> None:
        """A binary websocket frame exactly as given (e.g. one too short for its header)."""
        assert self._ws is not None
        await self._ws.send_bytes(frame)

    async def drop_socket(self) -> None:
        """Cut the TCP connection without a close frame (what a crashed server or network does)."""
        assert self._request is not None and self._request.transport is not None
        self._request.transport.abort()

    async def close_with(self, code: int) -> None:
        assert self._ws is not None
        if code == SESSION_INVALID and self.session_id is not None:
            # Discord's semantics: this session is gone; neither RESUME nor IDENTIFY can use its id again.
            self.dead_sessions.add(self.session_id)
        if code in (SESSION_INVALID, SESSION_TIMEOUT):
            self._resumable = False
        self.server_close_codes.append(code)
        self._closing = True
        await self._ws.close(code=code)

    async def move_to(self, channel_id: int) -> None:
        """The user moved the bot: the DAVE group is now the new channel's (the main gateway tells the bot)."""
        self.channel_id = channel_id
        await self.close_with(DISCONNECTED)

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._ws, self._request = ws, request
        self._identified = self._closing = False
        self.connections += 1
        self._note()
        await ws.send_str(json.dumps({"op": 8, "d": {"v": 8, "heartbeat_interval": self.heartbeat_ms}}))
        self._last_heartbeat = time.monotonic()
        watchdog = asyncio.get_running_loop().create_task(self._heartbeat_watchdog(ws))
        try:
            async for message in ws:
                if message.type.name == "TEXT":
                    payload = json.loads(message.data)
                    await self._on_json(ws, payload["op"], payload.get("d"))
                elif message.type.name == "BINARY":
                    self._on_binary(message.data[0], bytes(message.data[1:]))
                self._note()
        finally:
            watchdog.cancel()
        if not self._closing:
            self.client_close_codes.append(ws.close_code)
        self._note()
        return ws

    async def _heartbeat_watchdog(self, ws: web.WebSocketResponse) -> None:
        # Discord closes a session whose client stops heartbeating (4009); the session cannot be resumed.
        interval = self.heartbeat_ms / 1000
        grace = max(2 * interval, interval + 1.0)
        while not ws.closed:
            await asyncio.sleep(interval / 4)
            if ws is self._ws and time.monotonic() - self._last_heartbeat > grace:
                self.violations.append("missed heartbeats")
                await self.close_with(SESSION_TIMEOUT)
                return

    async def _on_json(self, ws: web.WebSocketResponse, op: int, d: Any) -> None:
        self.client_json.append((op, d))
        if op == 0:
            if self._identified:
                self.violations.append("second IDENTIFY on one connection")
                await self.close_with(ALREADY_AUTHENTICATED)
                return
            self.identifies.append(d)
            if d["session_id"] in self.dead_sessions:
                self.violations.append("IDENTIFY with an invalidated session")
                await self.close_with(SESSION_INVALID)
                return
            self._identified = self._resumable = True
            self.session_id = d["session_id"]
            self._seq, self._sent = 0, []
            # Every session gets its own ssrc, which SPEAKING must announce before audio flows from it.
            self.ssrc += 1
            self._announced.clear()
            await self.send_json(2, {"ssrc": self.ssrc, "ip": "127.0.0.1", "port": self.udp_port, "modes": self.modes})
            if self.present_users:
                await self.send_json(11, {"user_ids": [str(u) for u in self.present_users]})
        elif op == 1:
            self.selects.append(d)
            if d["data"]["mode"] not in self.modes:
                self.violations.append(f"unknown mode {d['data']['mode']}")
                await self.close_with(UNKNOWN_MODE)
                return
            self.mode = d["data"]["mode"]
            self.key = os.urandom(32)
            self._counter = 0
            self._client_addr = (d["data"]["address"], d["data"]["port"])
            await self.send_json(
                4, {"mode": self.mode, "secret_key": list(self.key), "dave_protocol_version": self.dave_version}
            )
            if self.dave_version > 0:
                # Discord sends the external sender on its own, right after the session description.
                await self.send_binary(25, self.external_sender.package())
        elif op == 3:
            self.heartbeats.append(d)
            self._last_heartbeat = time.monotonic()
            if self.answer_heartbeats:
                await ws.send_str(json.dumps({"op": 6, "d": {"t": d["t"]}}))
        elif op == 7:
            self.resumes.append(d)
            if d["session_id"] != self.session_id or not self._resumable:
                self.violations.append("RESUME of an invalid session")
                await self.close_with(SESSION_INVALID)
                return
            self._identified = True
            for seq, item in self._sent:
                if seq > d["seq_ack"]:
                    await (ws.send_str(item) if isinstance(item, str) else ws.send_bytes(item))
            await ws.send_str(json.dumps({"op": 9, "d": None}))
        elif op == 5:
            self.speaking.append(d)
            self._announced.add(int(d["ssrc"]))
        elif op == INVALID_COMMIT_WELCOME:
            # Discord's answer: the bot's leaf goes, and it is added again with the key package it sends next.
            self.invalid_commits.append(int(d["transition_id"]))
            self._readd_wanted = True

    def _on_binary(self, op: int, payload: bytes) -> None:
        self.client_binary.append((op, payload))
        if op == KEY_PACKAGE and self._readd_wanted and self.committer is not None:
            self._readd_wanted = False
            task = asyncio.get_running_loop().create_task(self._readd_bot(payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _readd_bot(self, key_package: bytes) -> None:
        assert self.committer is not None
        removed = () if self.bot_leaf is None else (self.bot_leaf,)
        leaf = self.bot_leaf if self.bot_leaf is not None else self.committer.leaves
        commit_welcome = self.committer.commit_adding(key_package, removed)
        self.bot_leaf = leaf
        await self._welcome_bot(commit_welcome[1])
        self.readds += 1
        self._note()

    async def _welcome_bot(self, welcome: bytes) -> None:
        """Op 30 with a new transition; once the bot reports ready (op 23), op 22 executes it."""
        self._next_transition += 1
        transition = self._next_transition
        await self.send_binary(30, struct.pack(">H", transition) + welcome)
        await self.wait_for(lambda: (23, {"transition_id": transition}) in self.client_json)
        await self.send_json(22, {"transition_id": transition})

    async def form_group(self, members: DaveMember | list[DaveMember], transition_id: int) -> None:
        """The call's group forms with the bot (it commits, as the first member does): op 27 adding `members`, the
        bot's op 28, op 29 announcing the commit, op 23 from the bot, op 22. The first member commits later
        additions."""
        joining = members if isinstance(members, list) else [members]
        commits = sum(1 for op, _ in self.client_binary if op == 28)
        payload = self.external_sender.proposals_payload(self.channel_id, 0, [m.key_package() for m in joining])
        await self.send_binary(27, payload)
        await self.wait_for(lambda: sum(1 for op, _ in self.client_binary if op == 28) == commits + 1)
        commit, welcome = split_commit_welcome([p for op, p in self.client_binary if op == 28][-1])
        assert welcome is not None
        await self.send_binary(29, struct.pack(">H", transition_id) + commit)
        await self.wait_for(lambda: (23, {"transition_id": transition_id}) in self.client_json)
        for member in joining:
            member.session.process_welcome(welcome)
        await self.send_json(22, {"transition_id": transition_id})
        self.committer, self.bot_leaf = joining[0], 0

    async def sole_member_reset(self) -> None:
        """The bot alone in the call: Discord starts a new group (op 24 epoch 1) and applies it at once (op 21, 0)."""
        packages = sum(1 for op, _ in self.client_binary if op == KEY_PACKAGE)
        await self.send_json(24, {"protocol_version": self.dave_version, "epoch": 1})
        await self.wait_for(lambda: sum(1 for op, _ in self.client_binary if op == KEY_PACKAGE) > packages)
        await self.send_json(21, {"transition_id": 0, "protocol_version": self.dave_version})
        self.bot_leaf = None

    async def downgrade(self, transition_id: int) -> None:
        """The call stops using DAVE: op 21 (version 0), the bot's op 23, op 22."""
        await self.send_json(21, {"transition_id": transition_id, "protocol_version": 0})
        await self.wait_for(lambda: (23, {"transition_id": transition_id}) in self.client_json)
        await self.send_json(22, {"transition_id": transition_id})

    # ---- UDP ----
    def on_udp(self, data: bytes, addr: tuple[str, int]) -> None:
        self._last_udp = time.monotonic()
        if len(data) == 74 and data[:2] == b"\x00\x01":
            self.discoveries += 1
            if self.answer_discovery:
                ssrc = struct.unpack_from(">I", data, 4)[0]
                reply = struct.pack(">HHI64sH", 2, 70, ssrc, addr[0].encode(), addr[1])
                assert self._udp is not None and self._udp.transport is not None
                self._udp.transport.sendto(reply, addr)
        elif len(data) == 8:
            self.keepalives += 1
        else:
            fields, payload = unseal(self.mode, self.key, data)
            if fields["ssrc"] not in self._announced:
                # Discord drops such a client: it never said which ssrc it would send from.
                self.violations.append(f"audio from unannounced ssrc {fields['ssrc']}")
                if self._ws is not None and not self._ws.closed:
                    asyncio.get_running_loop().create_task(self.close_with(DISCONNECTED))
                self._note()
                return
            self.packets.append(fields)
            self.frames.append(payload)
        self._note()

    def _client_reachable(self) -> bool:
        if time.monotonic() - self._last_udp > self.keepalive_timeout_s:
            self.audio_withheld += 1
            return False
        return True

    def send_audio(
        self,
        user_id: int,
        ssrc: int,
        frames: list[bytes],
        order: list[int] | None = None,
        transform: Callable[[bytes], bytes] | None = None,
        *,
        padding: int = 0,
        payload_type: int = 0x78,
        extension_elements: int = 1,
        first_seq: int = 1000,
    ) -> None:
        """Send Opus frames as `user_id` (after announcing its ssrc with SPEAKING), in `order`, with a header ext.

        `padding` adds RTP padding (P bit; the last padding byte holds its length) inside the encrypted part, as
        Discord does; `extension_elements` one-byte header-extension elements (each 4 bytes here). Discord's Opus
        silence frames are never DAVE-encrypted, so `transform` is not applied to them. Nothing is sent (counted in
        `audio_withheld`) when the client has sent no UDP for `keepalive_timeout_s`.
        """
        assert self._udp is not None and self._udp.transport is not None and self._client_addr is not None
        if not self._client_reachable():
            return
        for index in order if order is not None else range(len(frames)):
            first = 0xA0 if padding else 0x80
            header = struct.pack(">BBHII", first | 0x10, payload_type, (first_seq + index) & 0xFFFF, index * 960, ssrc)
            # One-byte header extension elements (RFC 5285 "BEDE" profile), encrypted with the payload in rtpsize.
            header += struct.pack(">HH", 0xBEDE, extension_elements)
            elements = b"".join(struct.pack(">BBBB", 0x10 + n, 0xFF - n, 0, 0) for n in range(extension_elements))
            frame = frames[index]
            body = frame if (transform is None or frame == OPUS_SILENCE) else transform(frame)
            pad = (bytes(padding - 1) + bytes([padding])) if padding else b""
            self._counter += 1
            packet = seal(self.mode, self.key, header, elements + body + pad, self._counter)
            self._udp.transport.sendto(packet, self._client_addr)

    def send_padding_only(self, ssrc: int, first_seq: int, count: int, padding: int = 8) -> None:
        """Packets whose payload is all RTP padding (P bit), as Discord sends around DTX silence."""
        assert self._udp is not None and self._udp.transport is not None and self._client_addr is not None
        if not self._client_reachable():
            return
        for n in range(count):
            seq = (first_seq + n) & 0xFFFF
            header = struct.pack(">BBHII", 0xA0, 0x78, seq, (first_seq + n) * 960 & 0xFFFFFFFF, ssrc)
            self._counter += 1
            body = bytes(padding - 1) + bytes([padding])
            self._udp.transport.sendto(seal(self.mode, self.key, header, body, self._counter), self._client_addr)

    def send_rtcp(self, ssrc: int) -> None:
        """An RTCP sender report (not sealed the RTP way), as Discord relays on the same socket."""
        report = struct.pack(">BBHI", 0x80, 200, 6, ssrc) + bytes(20)
        self.send_raw(report)

    def send_raw(self, packet: bytes) -> None:
        assert self._udp is not None and self._udp.transport is not None and self._client_addr is not None
        self._udp.transport.sendto(packet, self._client_addr)

    def decoded_audio(self) -> bytes:
        return decode_opus(self.frames)
