"""What the voice driver does after its socket closed: resume, identify afresh, wait for a new voice server, rejoin
through the main gateway, or end the session. Pure: the connection asks, then does what it is told."""

from __future__ import annotations

import enum

import attrs

from bot.voice.gateway_codes import CloseCode

# Codes that identical retries cannot cure (bad payloads, authentication, unknown server, protocol or mode, rate limit).
FATAL: frozenset[CloseCode] = frozenset(
    {
        CloseCode.UNKNOWN_OPCODE,
        CloseCode.FAILED_TO_DECODE,
        CloseCode.NOT_AUTHENTICATED,
        CloseCode.AUTHENTICATION_FAILED,
        CloseCode.ALREADY_AUTHENTICATED,
        CloseCode.SERVER_NOT_FOUND,
        CloseCode.UNKNOWN_PROTOCOL,
        CloseCode.UNKNOWN_ENCRYPTION_MODE,
        CloseCode.BAD_REQUEST,
        CloseCode.RATE_LIMITED,
    }
)
# Codes after which the server no longer holds the session: the next socket IDENTIFYs.
_SESSION_GONE: frozenset[CloseCode] = frozenset(
    {CloseCode.SESSION_INVALID, CloseCode.SESSION_TIMEOUT, CloseCode.DISCONNECTED, CloseCode.CALL_TERMINATED}
)
# The longest wait between two failed attempts (seconds).
MAX_BACKOFF_S = 30.0


class OwnClose(enum.StrEnum):
    """Why the driver closed its own socket (always with 4000, which keeps the session resumable)."""

    SERVER_CHANGED = "server changed"  # a new voice server: connect to its endpoint
    NEW_KEY = "new key needed"  # the transport cipher's nonces ran out
    DAVE_REJOIN = "DAVE keys out of step; rejoining"  # DAVE recovery needs a new voice session
    WATCHDOG = "watchdog: no heartbeat ack"  # the socket is dead
    SOCKET_ERROR = "socket error"  # the socket ended without a close code
    FAILED = "error"  # an exception in the connection loop (IP discovery timeout, malformed frame)


class Step(enum.Enum):
    RECONNECT = "reconnect"  # connect again (after the backoff, if attempts are failing)
    AWAIT_SERVER = "await server"  # wait for a new voice server (moved, kicked, call ended), then connect to it
    REJOIN = "rejoin"  # leave and rejoin through the main gateway, wait for the new voice server, then connect
    END = "end"  # the session is over


@attrs.frozen(kw_only=True)
class Closed:
    """How the last socket ended, and what the session had reached."""

    code: int | None  # the server's close code; None when the driver closed the socket itself or its loop failed
    own: OwnClose | None = None  # why the driver closed it, if it did
    error: str | None = None  # the exception that broke the connection loop, as text
    reached_ready: bool = False  # the socket got as far as a working session (SESSION_DESCRIPTION or RESUMED)
    had_session: bool = True  # a session key was ever received (without one there is nothing to resume)
    failures: int = 0  # attempts in a row that never reached ready, this one included
    max_failures: int = 5


@attrs.frozen
class Recovery:
    """The step to take; whether the next socket RESUMEs; why (a log line), or why the session ends (`END`) or
    ends should the wait or the rejoin fail (`AWAIT_SERVER`, `REJOIN`)."""

    step: Step
    resume: bool = False
    note: str = ""
    warn: bool = True  # a warning, else info
    ended: str | None = None


def _resumes(closed: Closed) -> bool:
    if closed.code in _SESSION_GONE or not closed.had_session:
        return False
    if closed.own in (OwnClose.SERVER_CHANGED, OwnClose.NEW_KEY, OwnClose.DAVE_REJOIN):
        return False
    if closed.error is not None:
        # Broken after the session was up: resume it. Broken during the handshake: start again (new discovery).
        return closed.reached_ready
    return True


def decide(closed: Closed) -> Recovery:
    """What to do after the socket `closed`."""
    code = closed.code
    if code in FATAL:
        return Recovery(Step.END, ended=f"the voice server refused the connection (close code {code})")
    if code == CloseCode.DAVE_REQUIRED:
        return Recovery(
            Step.END,
            ended="the voice server requires end-to-end encryption (DAVE), which this connection could not set up "
            "(4017)",
        )
    if closed.failures > closed.max_failures:
        return Recovery(Step.END, ended=f"{closed.failures} attempts to reconnect failed in a row")
    resume = _resumes(closed)
    if closed.error is not None:
        return Recovery(Step.RECONNECT, resume, f"connection failed ({closed.error}); reconnecting")
    if code in (CloseCode.DISCONNECTED, CloseCode.CALL_TERMINATED):
        return Recovery(
            Step.AWAIT_SERVER,
            resume,
            f"disconnected ({code}: moved, kicked or call ended); waiting for a new voice server",
            warn=False,
            ended=f"disconnected from the channel ({code}) and no new voice server came",
        )
    if code == CloseCode.SESSION_INVALID:
        return Recovery(
            Step.REJOIN,
            resume,
            "session no longer valid (4006); rejoining through the main gateway",
            ended="the voice session became invalid (4006) and rejoining the channel failed",
        )
    if code == CloseCode.SESSION_TIMEOUT:
        return Recovery(Step.RECONNECT, resume, "session timed out (4009); starting a fresh session")
    if closed.own == OwnClose.DAVE_REJOIN:
        return Recovery(
            Step.REJOIN,
            resume,
            f"{OwnClose.DAVE_REJOIN} through the main gateway",
            ended="members could not be heard (DAVE keys out of step) and rejoining the channel failed",
        )
    if closed.own is not None:
        return Recovery(Step.RECONNECT, resume, f"reconnecting ({closed.own})", warn=False)
    reason = "voice server crashed (4015)" if code == CloseCode.SERVER_CRASHED else f"socket closed ({code})"
    return Recovery(Step.RECONNECT, resume, f"{reason}; reconnecting")


def backoff_s(failures: int, base_s: float) -> float:
    """How long to wait before the next attempt after `failures` failed ones in a row (none: at once)."""
    return min(base_s * 2 ** (failures - 1), MAX_BACKOFF_S) if failures else 0.0
