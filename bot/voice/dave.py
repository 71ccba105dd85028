"""DAVE (Discord's end-to-end audio encryption) on the bot's side: voice gateway ops 21–31 over a `davey.DaveSession`.

Binary frames from the server carry a 2-byte sequence number and a 1-byte opcode before the payload; binary frames
the client sends carry only the opcode. Transitions follow daveprotocol.com: the server prepares a transition
(op 21, or op 29/30 with a transition id), the client reports it ready (op 23), the server executes it (op 22).
Transition id 0 means "apply at once" (joining, or a group of one). Protocol version 0 means passthrough: frames are
sent and accepted unencrypted.

Passthrough on receive, as the whitepaper and `davey` define it: `set_passthrough_mode(True, …)` accepts plain frames
with no end, `set_passthrough_mode(False, n)` keeps accepting them for n more seconds. While an upgrade is under way
(and until its transition executes) plain frames from members who have not switched yet are accepted; its execution
leaves a 10 s grace. After a downgrade executes, the old keys are kept for 10 s so frames still in flight decrypt.
Frames that carry DAVE's marker but cannot be decrypted never reach the Opus decoder, and when they keep failing
while the group is settled the bot re-initialises (`bot.voice.dave_recovery` decides when).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import struct
import time
from collections.abc import Awaitable, Callable

import davey

from bot.voice.dave_recovery import DaveRecovery, RecoveryAction

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


# Which DAVE opcodes come as JSON and which as binary frames.
JSON_OPS: frozenset[DaveOp] = frozenset(
    {
        DaveOp.PREPARE_TRANSITION,
        DaveOp.EXECUTE_TRANSITION,
        DaveOp.TRANSITION_READY,
        DaveOp.PREPARE_EPOCH,
        DaveOp.MLS_INVALID_COMMIT_WELCOME,
    }
)
BINARY_OPS: frozenset[DaveOp] = frozenset(
    {
        DaveOp.MLS_EXTERNAL_SENDER,
        DaveOp.MLS_KEY_PACKAGE,
        DaveOp.MLS_PROPOSALS,
        DaveOp.MLS_COMMIT_WELCOME,
        DaveOp.MLS_ANNOUNCE_COMMIT_TRANSITION,
        DaveOp.MLS_WELCOME,
    }
)
# How long receivers keep the other side of a transition working after it executes (seconds; the whitepaper's window):
# plain frames after an upgrade, frames under the old keys after a downgrade.
TRANSITION_EXPIRY_S = 10
OPUS_SILENCE = b"\xf8\xff\xfe"
# The last two bytes of every DAVE-encrypted frame; the byte before them is the size of DAVE's trailer.
_MAGIC = b"\xfa\xfa"
# Trailer: 8-byte tag, nonce (>= 1 byte), ranges (>= 0), its own size byte and the marker.
_MIN_TRAILER = 8 + 1 + 1 + 2

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


def looks_encrypted(frame: bytes) -> bool:
    """Whether a frame carries DAVE's trailer (an Opus frame that happens to end the same way is rare and is lost)."""
    return len(frame) > _MIN_TRAILER and frame.endswith(_MAGIC) and _MIN_TRAILER <= frame[-3] <= len(frame)


class UndecryptableFrame(ValueError):
    """A DAVE frame this member cannot decrypt now (keys out of step, or a group the bot is not in)."""


class DaveState:
    """The bot's DAVE participant: follows the server's transitions and encrypts/decrypts Opus frames."""

    def __init__(
        self,
        user_id: int,
        channel_id: int,
        send_json: SendJson,
        send_binary: SendBinary,
        *,
        recovery: DaveRecovery | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._user_id = user_id
        # The MLS group id is the voice channel's id: after a move, the next session's group is the new channel's.
        self.channel_id = channel_id
        self._send_json = send_json
        self._send_binary = send_binary
        self._clock = clock
        self.recovery = recovery or DaveRecovery()
        # Called when re-initialising did not bring the frames back: the session leaves and rejoins the channel.
        self.on_rejoin: Callable[[], None] | None = None
        self.protocol_version = 0
        self.session: davey.DaveSession | None = None
        self.other_users: set[int] = set()
        # transition id -> (protocol version that executing it switches to, when it was prepared)
        self._pending: dict[int, tuple[int, float]] = {}
        self.transitions_executed = 0
        self.key_packages_sent = 0
        # The last executed transition (0 is a real id: joining, or a group of one), what op 31 names.
        self.last_transition_id: int | None = None
        self._reinitialising_since: float | None = None
        # Transitions op 31 already went out for: one report per transition, however many bad messages name it.
        self._invalidated: set[int] = set()
        # An upgrade from unencrypted is under way: plain frames are accepted until it executes (then 10 s more).
        self._upgrading = False
        # After a downgrade executes, the old keys decrypt frames still in flight until then.
        self._downgrade_grace_until: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # When this session's key package went out (op 4, op 24 epoch 1) and no transition has executed since: frames
        # from the group arrive before the server adds the bot to it.
        self._joining_since: float | None = None

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
        return None if self.session is None or self.protocol_version == 0 else self.session.epoch

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
        self._invalidated.clear()
        self.last_transition_id = None
        self._reinitialising_since = None
        self._upgrading = False
        self._downgrade_grace_until = None
        self.recovery.new_session()
        if protocol_version > 0:
            self._joining_since = self._clock()
            self._fresh_session(protocol_version)
            await self._send_key_package()
        elif self.session is not None:
            self.session.reset()
            self.session.set_passthrough_mode(True)

    def _fresh_session(self, version: int) -> None:
        self._downgrade_grace_until = None
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
            self._pending[transition_id] = (version, self._clock())
            if version == 0 and self.session is not None:
                # Downgrade: accept plain frames from now on (no end) so nobody is cut off while others switch.
                self.session.set_passthrough_mode(True)
            await self._ready_or_execute(transition_id)
        elif op == DaveOp.EXECUTE_TRANSITION:
            self._execute(int(str(data["transition_id"])))
        elif op == DaveOp.PREPARE_EPOCH:
            epoch = int(str(data["epoch"]))
            version = int(str(data["protocol_version"]))
            if epoch == 1:
                # Epoch 1 is a brand-new group (first upgrade or after a reset): rejoin it from scratch.
                _log.info("DAVE: new MLS group announced (protocol version %d)", version)
                self._upgrading = self.protocol_version == 0 and version > 0
                self.protocol_version = version
                self._joining_since = self._clock()
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
                await self._reinitialise(transition_id)
                return
            if self._upgrading:
                # The new group's decryptors start closed to plain frames: open them until the upgrade executes.
                self.session.set_passthrough_mode(True)
            self._pending[transition_id] = (self.protocol_version, self._clock())
            await self._ready_or_execute(transition_id)
        else:
            _log.warning("DAVE: unexpected binary op %d; ignored", op)

    async def _ready_or_execute(self, transition_id: int) -> None:
        if transition_id == 0:
            self._execute(0)
        else:
            await self._send_json(DaveOp.TRANSITION_READY, {"transition_id": transition_id})

    def _execute(self, transition_id: int) -> None:
        pending = self._pending.pop(transition_id, None)
        if pending is None:
            _log.warning("DAVE: execute for unknown transition %d; ignored", transition_id)
            return
        version = pending[0]
        previous = self.protocol_version
        self.protocol_version = version
        self.transitions_executed += 1
        self.last_transition_id = transition_id
        self._reinitialising_since = None
        self._joining_since = None
        self._invalidated.clear()
        if version == 0 and previous > 0 and self.session is not None:
            # Frames encrypted just before the switch are still on their way: keep the keys a while.
            self._downgrade_grace_until = self._clock() + TRANSITION_EXPIRY_S
        elif version > 0 and self.session is not None and self._upgrading:
            # Members who switch a little later still send plain frames: accept them for the whitepaper's window.
            self.session.set_passthrough_mode(False, TRANSITION_EXPIRY_S)
            self._upgrading = False
        _log.info("DAVE: transition %d executed (protocol version %d → %d)", transition_id, previous, version)

    async def _reinitialise(self, transition_id: int | None) -> None:
        """Op 31 for `transition_id` (once per transition), then a fresh MLS session and key package."""
        if self._reinitialising(self._clock()):
            return
        self._reinitialising_since = self._clock()
        if transition_id is not None and transition_id not in self._invalidated:
            self._invalidated.add(transition_id)
            await self._send_json(DaveOp.MLS_INVALID_COMMIT_WELCOME, {"transition_id": transition_id})
        self._fresh_session(self.protocol_version)
        await self._send_key_package()

    def _reinitialising(self, now: float) -> bool:
        # A re-initialisation the server never answered must not stop failures from counting for ever.
        since = self._reinitialising_since
        return since is not None and now - since < self.recovery.cooldown_s

    def _settling(self, now: float) -> bool:
        """A transition pending or a re-initialisation running: frames under the other keys are expected to fail."""
        window = self.recovery.cooldown_s
        fresh = any(now - prepared < window for _, prepared in self._pending.values())
        joining = self._joining_since is not None and now - self._joining_since < window
        return fresh or joining or self._reinitialising(now)

    def encrypt(self, opus: bytes) -> bytes:
        """The frame to put in RTP: DAVE-encrypted when active, unchanged in passthrough (version 0)."""
        if self.session is not None and self.active:
            return self.session.encrypt_opus(opus)
        return opus

    def decrypt(self, user_id: int, frame: bytes) -> bytes:
        """The Opus frame inside a received payload; raises UndecryptableFrame when it cannot be decrypted."""
        session = self.session
        if session is None or frame == OPUS_SILENCE:
            # Opus silence frames are sent without DAVE (they carry nothing to protect).
            return frame
        now = self._clock()
        if self.protocol_version == 0:
            if not looks_encrypted(frame):
                return frame
            if self._downgrade_grace_until is not None and now < self._downgrade_grace_until:
                try:
                    return session.decrypt(user_id, davey.MediaType.audio, frame)
                except Exception as exc:
                    raise UndecryptableFrame(str(exc)) from None
            if self._downgrade_grace_until is not None:
                self._downgrade_grace_until = None
                session.reset()
                session.set_passthrough_mode(True)
            raise UndecryptableFrame("an encrypted frame after the call stopped using DAVE")
        if not session.ready and not looks_encrypted(frame):
            # The group is still forming (joining, or an upgrade): members send plain frames until it executes.
            return frame
        try:
            opus = session.decrypt(user_id, davey.MediaType.audio, frame)
        except Exception as exc:
            self._failed(now, user_id)
            raise UndecryptableFrame(str(exc)) from None
        self.recovery.succeeded(user_id)
        return opus

    def _reinitialised(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # The socket went away meanwhile: the reconnect starts a fresh session anyway.
            _log.warning("DAVE: re-initialising failed: %s", exc)

    def _failed(self, now: float, user_id: int) -> None:
        action = self.recovery.failed(now, user_id, settling=self._settling(now))
        if action is RecoveryAction.REINITIALISE:
            _log.warning(
                "DAVE: frames from user %s keep failing to decrypt; re-initialising (transition %s)",
                user_id,
                self.last_transition_id,
            )
            task = asyncio.get_running_loop().create_task(self._reinitialise(self.last_transition_id))
            self._tasks.add(task)
            task.add_done_callback(self._reinitialised)
        elif action is RecoveryAction.REJOIN:
            _log.warning("DAVE: re-initialising did not help; rejoining the channel")
            if self.on_rejoin is not None:
                self.on_rejoin()
