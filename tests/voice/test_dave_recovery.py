"""The DAVE recovery policy on its own: when failed decryptions make the bot re-key, wait, or rejoin."""

from __future__ import annotations

import pytest

from bot.voice.dave_recovery import DaveRecovery, RecoveryAction

NONE, REINIT, REJOIN = RecoveryAction.NONE, RecoveryAction.REINITIALISE, RecoveryAction.REJOIN

# Steps: (seconds on the clock, "ok" | "fail" | "settling fail", how many times) → every action answered, in order.
CASES: dict[str, tuple[list[tuple[float, str, int]], list[RecoveryAction]]] = {
    "a few failures after a key change are tolerated": ([(0, "fail", 4)], []),
    "the limit itself is tolerated": ([(0, "fail", 5)], []),
    "one past the limit re-keys": ([(0, "fail", 6)], [REINIT]),
    "a success in between starts the count again": ([(0, "fail", 5), (0, "ok", 1), (0, "fail", 5)], []),
    "failures during a transition or re-init do not count": ([(0, "settling fail", 100), (0, "fail", 5)], []),
    "at most one re-key per cooldown": ([(0, "fail", 6), (9.9, "fail", 100)], [REINIT]),
    "another re-key after the cooldown": ([(0, "fail", 6), (10, "fail", 6)], [REINIT, REINIT]),
    "re-keying twice without any frame back rejoins": (
        [(0, "fail", 6), (10, "fail", 6), (20, "fail", 6)],
        [REINIT, REINIT, REJOIN],
    ),
    "a frame back between re-keys keeps it to re-keying": (
        [(0, "fail", 6), (10, "ok", 1), (10, "fail", 6), (20, "ok", 1), (20, "fail", 6)],
        [REINIT, REINIT, REINIT],
    ),
    "after a rejoin the next trouble re-keys first": (
        [(0, "fail", 6), (10, "fail", 6), (20, "fail", 6), (30, "fail", 6)],
        [REINIT, REINIT, REJOIN, REINIT],
    ),
}


@pytest.mark.parametrize("steps,expected", list(CASES.values()), ids=list(CASES))
def test_recovery_policy(steps: list[tuple[float, str, int]], expected: list[RecoveryAction]) -> None:
    policy = DaveRecovery(failure_limit=5, cooldown_s=10, max_reinits=2)
    actions: list[RecoveryAction] = []
    for now, what, times in steps:
        for _ in range(times):
            if what == "ok":
                policy.succeeded()
            elif (answer := policy.failed(now, settling=what == "settling fail")) is not NONE:
                actions.append(answer)
    assert actions == expected


def test_counts_what_status_shows() -> None:
    policy = DaveRecovery(failure_limit=1, cooldown_s=5, max_reinits=1)
    answers = [policy.failed(t, settling=False) for t in (0, 0, 5, 5, 10, 10)]
    assert answers == [NONE, REINIT, NONE, REJOIN, NONE, REINIT]
    assert (policy.reinitialisations, policy.rejoins) == (2, 1)
