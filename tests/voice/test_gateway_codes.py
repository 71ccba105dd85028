"""The voice gateway's numbers match what Discord documents, and every close code Discord can send gets a deliberate
answer from the reconnect policy that names the code in what the operator reads."""

from __future__ import annotations

from bot.voice.gateway_codes import CloseCode, VoiceOp
from bot.voice.reconnect_policy import FATAL, Closed, Step, decide

# discord-api-docs, "Voice Close Event Codes".
DOCUMENTED_CLOSE_CODES = {
    4001: "unknown opcode",
    4002: "failed to decode payload",
    4003: "not authenticated",
    4004: "authentication failed",
    4005: "already authenticated",
    4006: "session no longer valid",
    4009: "session timeout",
    4011: "server not found",
    4012: "unknown protocol",
    4014: "disconnected",
    4015: "voice server crashed",
    4016: "unknown encryption mode",
    4017: "E2EE/DAVE protocol required",
    4020: "bad request",
    4021: "disconnected: rate limited",
    4022: "disconnected: call terminated",
}
# discord-api-docs, "Voice Opcodes" (JSON ones; DAVE's binary ones are bot.voice.dave's).
DOCUMENTED_OPCODES = {
    "IDENTIFY": 0,
    "SELECT_PROTOCOL": 1,
    "READY": 2,
    "HEARTBEAT": 3,
    "SESSION_DESCRIPTION": 4,
    "SPEAKING": 5,
    "HEARTBEAT_ACK": 6,
    "RESUME": 7,
    "HELLO": 8,
    "RESUMED": 9,
    "CLIENTS_CONNECT": 11,
    "CLIENT_DISCONNECT": 13,
}


def test_every_documented_close_code_is_named() -> None:
    assert {int(code) for code in CloseCode} == set(DOCUMENTED_CLOSE_CODES)


def test_opcodes_have_the_documented_numbers() -> None:
    assert {op.name: int(op) for op in VoiceOp} == DOCUMENTED_OPCODES


def test_every_close_code_ends_the_session_or_recovers_and_says_which_code_it_was() -> None:
    for code in CloseCode:
        recovery = decide(Closed(code=code, reached_ready=True, had_session=True))
        said = f"{recovery.note} {recovery.ended or ''}"
        assert str(int(code)) in said, (code, said)
        if code in FATAL or code == CloseCode.DAVE_REQUIRED:
            assert recovery.step == Step.END
        else:
            assert recovery.step != Step.END, code  # the session may come back, and is given the chance


def test_a_code_the_server_may_add_later_is_reconnected_from_and_named() -> None:
    recovery = decide(Closed(code=4099, reached_ready=True, had_session=True))
    assert recovery.step == Step.RECONNECT and "4099" in recovery.note
