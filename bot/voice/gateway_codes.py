"""The voice gateway's numbers by name: opcodes (v8) and close event codes, as discord-api-docs lists them."""

from __future__ import annotations

import enum


class VoiceOp(enum.IntEnum):
    """Voice gateway opcodes (JSON payloads; DAVE's own are `bot.voice.dave.DaveOp`)."""

    IDENTIFY = 0
    SELECT_PROTOCOL = 1
    READY = 2
    HEARTBEAT = 3
    SESSION_DESCRIPTION = 4
    SPEAKING = 5
    HEARTBEAT_ACK = 6
    RESUME = 7
    HELLO = 8
    RESUMED = 9
    CLIENTS_CONNECT = 11
    CLIENT_DISCONNECT = 13


class CloseCode(enum.IntEnum):
    """Why the voice server closed the socket."""

    UNKNOWN_OPCODE = 4001
    FAILED_TO_DECODE = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    SESSION_INVALID = 4006
    SESSION_TIMEOUT = 4009
    SERVER_NOT_FOUND = 4011
    UNKNOWN_PROTOCOL = 4012
    DISCONNECTED = 4014
    SERVER_CRASHED = 4015
    UNKNOWN_ENCRYPTION_MODE = 4016
    DAVE_REQUIRED = 4017
    BAD_REQUEST = 4020
    RATE_LIMITED = 4021
    CALL_TERMINATED = 4022
