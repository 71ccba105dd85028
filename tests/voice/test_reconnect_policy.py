"""The voice reconnect policy on its own: after each close code, in each state the session was in, what the driver
does next (resume, identify afresh, wait for a new voice server, rejoin, or end) and what it says."""

from __future__ import annotations

import attrs
import pytest

from bot.voice.gateway_codes import CloseCode
from bot.voice.reconnect_policy import FATAL, Closed, OwnClose, Step, backoff_s, decide

RECONNECT, AWAIT, REJOIN, END = Step.RECONNECT, Step.AWAIT_SERVER, Step.REJOIN, Step.END

# States the session may be in when its socket closes.
UP = Closed(code=None, reached_ready=True, had_session=True)  # connected and working
HANDSHAKE = Closed(code=None, reached_ready=False, had_session=True)  # a reconnect broke before it was ready again
NEVER = Closed(code=None, reached_ready=False, had_session=False)  # never got a session key

# (close code, state) -> (step, whether the next socket resumes)
TABLE: dict[tuple[int | None, str], tuple[Step, bool]] = {
    **{(code, state): (END, False) for code in FATAL for state in ("up", "handshake", "never")},
    **{(CloseCode.DAVE_REQUIRED, state): (END, False) for state in ("up", "handshake", "never")},
    # The server no longer holds the session: never resumed.
    (CloseCode.SESSION_INVALID, "up"): (REJOIN, False),
    (CloseCode.SESSION_INVALID, "handshake"): (REJOIN, False),
    (CloseCode.SESSION_TIMEOUT, "up"): (RECONNECT, False),
    (CloseCode.SESSION_TIMEOUT, "never"): (RECONNECT, False),
    (CloseCode.DISCONNECTED, "up"): (AWAIT, False),
    (CloseCode.DISCONNECTED, "never"): (AWAIT, False),
    (CloseCode.CALL_TERMINATED, "up"): (AWAIT, False),
    (CloseCode.CALL_TERMINATED, "handshake"): (AWAIT, False),
    # The session survives a crashed server or a dropped socket: resumed, if there is one to resume.
    (CloseCode.SERVER_CRASHED, "up"): (RECONNECT, True),
    (CloseCode.SERVER_CRASHED, "handshake"): (RECONNECT, True),
    (CloseCode.SERVER_CRASHED, "never"): (RECONNECT, False),
    (1006, "up"): (RECONNECT, True),
    (1006, "never"): (RECONNECT, False),
    (None, "up"): (RECONNECT, True),
}
STATES = {"up": UP, "handshake": HANDSHAKE, "never": NEVER}


@pytest.mark.parametrize(("code", "state"), list(TABLE), ids=[f"{code}-{state}" for code, state in TABLE])
def test_a_close_code_in_a_state_gives_its_step(code: int | None, state: str) -> None:
    recovery = decide(attrs.evolve(STATES[state], code=code))
    assert (recovery.step, recovery.resume) == TABLE[code, state]


def test_every_discord_voice_close_code_is_in_the_table() -> None:
    assert {c for c, _ in TABLE if c is not None and 4000 < c < 5000} == set(CloseCode)


# Why the driver closed its own socket (the code is then None), once the session was up -> (step, resumes).
OWN: dict[OwnClose, tuple[Step, bool]] = {
    OwnClose.SERVER_CHANGED: (RECONNECT, False),  # another endpoint: a fresh session there
    OwnClose.NEW_KEY: (RECONNECT, False),  # only a fresh session brings a new key
    OwnClose.DAVE_REJOIN: (REJOIN, False),
    OwnClose.WATCHDOG: (RECONNECT, True),
    OwnClose.SOCKET_ERROR: (RECONNECT, True),
}


@pytest.mark.parametrize("own", list(OWN), ids=[o.name for o in OWN])
def test_the_drivers_own_close_gives_its_step(own: OwnClose) -> None:
    recovery = decide(attrs.evolve(UP, own=own))
    assert (recovery.step, recovery.resume) == OWN[own]
    assert recovery.warn is (own == OwnClose.DAVE_REJOIN)


@pytest.mark.parametrize(
    ("reached_ready", "resume"), [(True, True), (False, False)], ids=["after ready", "during the handshake"]
)
def test_a_failed_loop_resumes_only_a_session_that_was_up(reached_ready: bool, resume: bool) -> None:
    closed = Closed(code=None, own=OwnClose.FAILED, error="no answer to UDP IP discovery", reached_ready=reached_ready)
    recovery = decide(closed)
    assert (recovery.step, recovery.resume) == (RECONNECT, resume)
    assert recovery.note == "connection failed (no answer to UDP IP discovery); reconnecting"


def test_a_fatal_code_ends_the_session_even_with_attempts_left_and_says_which() -> None:
    recovery = decide(Closed(code=CloseCode.AUTHENTICATION_FAILED, failures=0))
    assert recovery.step is END
    assert recovery.ended == "the voice server refused the connection (close code 4004)"


def test_dave_required_ends_the_session_saying_so() -> None:
    ended = decide(Closed(code=CloseCode.DAVE_REQUIRED)).ended
    assert ended is not None and "DAVE" in ended and "4017" in ended


@pytest.mark.parametrize("code", [CloseCode.SERVER_CRASHED, None, CloseCode.SESSION_INVALID, CloseCode.DISCONNECTED])
def test_too_many_failed_attempts_in_a_row_end_the_session(code: int | None) -> None:
    assert decide(Closed(code=code, failures=3, max_failures=3)).step is not END
    recovery = decide(Closed(code=code, failures=4, max_failures=3))
    assert (recovery.step, recovery.ended) == (END, "4 attempts to reconnect failed in a row")


@pytest.mark.parametrize(
    ("closed", "ended_if_it_fails"),
    [
        (Closed(code=4014), "disconnected from the channel (4014) and no new voice server came"),
        (Closed(code=4022), "disconnected from the channel (4022) and no new voice server came"),
        (Closed(code=4006), "the voice session became invalid (4006) and rejoining the channel failed"),
        (
            Closed(code=None, own=OwnClose.DAVE_REJOIN),
            "members could not be heard (DAVE keys out of step) and rejoining the channel failed",
        ),
    ],
    ids=["4014", "4022", "4006", "dave"],
)
def test_a_wait_or_rejoin_says_why_the_session_ends_if_it_fails(closed: Closed, ended_if_it_fails: str) -> None:
    assert decide(closed).ended == ended_if_it_fails


@pytest.mark.parametrize(
    ("closed", "note", "warn"),
    [
        (Closed(code=4015), "voice server crashed (4015); reconnecting", True),
        (Closed(code=1006), "socket closed (1006); reconnecting", True),
        (Closed(code=None), "socket closed (None); reconnecting", True),
        (Closed(code=4009), "session timed out (4009); starting a fresh session", True),
        (Closed(code=4014), "disconnected (4014: moved, kicked or call ended); waiting for a new voice server", False),
        (Closed(code=None, own=OwnClose.WATCHDOG), "reconnecting (watchdog: no heartbeat ack)", False),
    ],
    ids=["4015", "1006", "none", "4009", "4014", "watchdog"],
)
def test_each_reconnect_says_why(closed: Closed, note: str, warn: bool) -> None:
    recovery = decide(closed)
    assert recovery.note == note
    assert recovery.warn is warn


def test_backoff_doubles_from_the_base_up_to_thirty_seconds() -> None:
    assert [backoff_s(n, 0.5) for n in range(8)] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
