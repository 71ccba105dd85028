"""DAVE (Discord's end-to-end audio encryption) on the bot's side: voice gateway ops 21–31 over a `davey.DaveSession`.

Binary frames from the server carry a 2-byte sequence number and a 1-byte opcode before the payload; binary frames
the client sends carry only the opcode. Transitions follow daveprotocol.com: the server prepares a transition
(op 21, or op 29/30 with a transition id), the client reports it ready (op 23), the server executes it (op 22).
Transition id 0 means "apply at once" (joining, or a group of one). Protocol version 0 means passthrough: frames are
sent and accepted unencrypted.
"""

from __future__ import annotations

import enum
import logging
import struct
from collections.abc import Awaitable, Callable

import davey

_log = logging.getLogger(__name__)


class DaveOp(enum.IntEnum):
    PREPARE_TRANSITION = 21
    EXECUTE_TRANSITION = 22
    TRANSITION_READY = 23
    PREPARE_EPOCH = 24
    MLS_EXTERNAL_SENDER = 25
    MLS_KEY_PACKAGE = 26
    MLS_PROPOSALS = 27
    MLS_COMMIT_WELCOME = 28
    MLS_ANNOUNCE_COMMIT_TRANSITION = 29
    MLS_WELCOME = 30
    MLS_INVALID_COMMIT_WELCOME = 31


JSON_OPS = frozenset({21, 22, 23, 24, 31})
BINARY_OPS = frozenset({25, 26, 27, 28, 29, 30})
# How long receivers keep accepting unencrypted frames after a downgrade/upgrade (seconds; the whitepaper's window).
_PASSTHROUGH_EXPIRY_S = 10
OPUS_SILENCE = b"\xf8\xff\xfe"

SendJson = Callable[[int, dict[str, object]], Awaitable[None]]
SendBinary = Callable[[int, bytes], Awaitable[None]]


def parse_server_binary(frame: bytes) -> tuple[int, int, bytes]:
    """(sequence, opcode, payload) of a binary frame from the voice server."""
    if len(frame) < 3:
        raise ValueError("binary voice frame shorter than its header")
    sequence, opcode = struct.unpack_from(">HB", frame)
    return sequence, opcode, frame[3:]


def client_binary(opcode: int, payload: bytes) -> bytes:
    """A binary frame as the client sends it: opcode byte, then payload."""
    return bytes([opcode]) + payload


class DaveState:
    """The bot's DAVE participant: follows the server's transitions and encrypts/decrypts Opus frames."""

    def __init__(self, user_id: int, channel_id: int, send_json: SendJson, send_binary: SendBinary) -> None:
        self._user_id = user_id
        # The MLS group id is the voice channel's id: after a move, the next session's group is the new channel's.
        self.channel_id = channel_id
        self._send_json = send_json
        self._send_binary = send_binary
        self.protocol_version = 0
        self.session: davey.DaveSession | None = None
        self.other_users: set[int] = set()
        # transition id -> protocol version that executing it switches to
        self._pending: dict[int, int] = {}
        self.transitions_executed = 0
        self.key_packages_sent = 0

    @property
    def max_version(self) -> int:
        return davey.DAVE_PROTOCOL_VERSION

    @property
    def active(self) -> bool:
        """Whether outgoing frames are end-to-end encrypted now."""
        return self.protocol_version > 0 and self.session is not None and self.session.ready

    @property
    def privacy_code(self) -> str | None:
        if self.protocol_version == 0 or self.session is None:
            return None
        return self.session.voice_privacy_code

    @property
    def epoch(self) -> int | None:
        return None if self.session is None else self.session.epoch

    def forget_members(self) -> None:
        """A fresh IDENTIFY starts a new voice session: the members are announced again (op 11)."""
        self.other_users.clear()

    async def start(self, protocol_version: int, channel_id: int) -> None:
        """Called on SESSION_DESCRIPTION with the negotiated version (0 = no DAVE for this call) and current channel.

        With DAVE, the key package goes out at once (the server's external sender, op 25, follows on its own).
        """
        self.protocol_version = protocol_version
        self.channel_id = channel_id
        self._pending.clear()
        if protocol_version > 0:
            self._fresh_session(protocol_version)
            await self._send_key_package()
        elif self.session is not None:
            self.session.reset()
            self.session.set_passthrough_mode(True, _PASSTHROUGH_EXPIRY_S)

    def _fresh_session(self, version: int) -> None:
        if self.session is None:
            self.session = davey.DaveSession(version, self._user_id, self.channel_id)
        else:
            self.session.reinit(version, self._user_id, self.channel_id)

    async def _send_key_package(self) -> None:
        assert self.session is not None
        await self._send_binary(DaveOp.MLS_KEY_PACKAGE, self.session.get_serialized_key_package())
        self.key_packages_sent += 1

    async def handle_json(self, op: int, data: dict[str, object]) -> None:
        if op == DaveOp.PREPARE_TRANSITION:
            transition_id = int(str(data["transition_id"]))
            version = int(str(data["protocol_version"]))
            self._pending[transition_id] = version
            if version == 0 and self.session is not None:
                # Downgrade: start accepting plain frames now so nobody is cut off while others switch.
                self.session.set_passthrough_mode(True, _PASSTHROUGH_EXPIRY_S)
            await self._ready_or_execute(transition_id)
        elif op == DaveOp.EXECUTE_TRANSITION:
            self._execute(int(str(data["transition_id"])))
        elif op == DaveOp.PREPARE_EPOCH:
            epoch = int(str(data["epoch"]))
            version = int(str(data["protocol_version"]))
            if epoch == 1:
                # Epoch 1 is a brand-new group (first upgrade or after a reset): rejoin it from scratch.
                _log.info("DAVE: new MLS group announced (protocol version %d)", version)
                self.protocol_version = version
                self._fresh_session(version)
                await self._send_key_package()

    async def handle_binary(self, op: int, payload: bytes) -> None:
        if self.session is None:
            _log.warning("DAVE: binary op %d before a DAVE session exists; ignored", op)
            return
        if op == DaveOp.MLS_EXTERNAL_SENDER:
            # Only the external sender: the key package was sent on op 4, op 24 (epoch 1) or after op 31.
            self.session.set_external_sender(payload)
        elif op == DaveOp.MLS_PROPOSALS:
            if not payload:
                return
            operation = davey.ProposalsOperationType.append if payload[0] == 0 else davey.ProposalsOperationType.revoke
            expected = sorted(self.other_users | {self._user_id})
            result = self.session.process_proposals(operation, payload[1:], expected)
            if result is not None:
                await self._send_binary(DaveOp.MLS_COMMIT_WELCOME, result.commit + (result.welcome or b""))
        elif op in (DaveOp.MLS_ANNOUNCE_COMMIT_TRANSITION, DaveOp.MLS_WELCOME):
            (transition_id,) = struct.unpack_from(">H", payload)
            body = payload[2:]
            try:
                if op == DaveOp.MLS_WELCOME:
                    self.session.process_welcome(body)
                else:
                    self.session.process_commit(body)
            except Exception:
                # The commit/welcome cannot be applied: tell the server and rejoin the group with a new key package.
                _log.warning("DAVE: invalid %s for transition %d; asking to rejoin", DaveOp(op).name, transition_id)
                await self._send_json(DaveOp.MLS_INVALID_COMMIT_WELCOME, {"transition_id": transition_id})
                self._fresh_session(self.protocol_version)
                await self._send_key_package()
                return
            self._pending[transition_id] = self.protocol_version
            await self._ready_or_execute(transition_id)
        else:
            _log.warning("DAVE: unexpected binary op %d; ignored", op)

    async def _ready_or_execute(self, transition_id: int) -> None:
        if transition_id == 0:
            self._execute(0)
        else:
            await self._send_json(DaveOp.TRANSITION_READY, {"transition_id": transition_id})

    def _execute(self, transition_id: int) -> None:
        version = self._pending.pop(transition_id, None)
        if version is None:
            _log.warning("DAVE: execute for unknown transition %d; ignored", transition_id)
            return
        previous = self.protocol_version
        self.protocol_version = version
        self.transitions_executed += 1
        if version == 0 and self.session is not None:
            self.session.reset()
            self.session.set_passthrough_mode(True, _PASSTHROUGH_EXPIRY_S)
        elif previous == 0 and version > 0 and self.session is not None:
            self.session.set_passthrough_mode(True, _PASSTHROUGH_EXPIRY_S)
        _log.info("DAVE: transition %d executed (protocol version %d → %d)", transition_id, previous, version)

    def encrypt(self, opus: bytes) -> bytes:
        """The frame to put in RTP: DAVE-encrypted when active, unchanged in passthrough (version 0)."""
        if self.session is not None and self.active:
            return self.session.encrypt_opus(opus)
        return opus

    def decrypt(self, user_id: int, frame: bytes) -> bytes:
        """The Opus frame inside a received payload; raises ValueError when it cannot be decrypted."""
        if self.session is None or self.protocol_version == 0 or frame == OPUS_SILENCE:
            # Opus silence frames are sent without DAVE (they carry nothing to protect).
            return frame
        if not self.session.ready and self.session.can_passthrough(user_id):
            return frame
        return self.session.decrypt(user_id, davey.MediaType.audio, frame)
