"""The DAVE recovery policy on its own: when failed decryptions make the bot re-key, wait, or rejoin."""

from __future__ import annotations

import pytest

from bot.voice.dave_recovery import DaveRecovery, RecoveryAction

NONE, REINIT, REJOIN = RecoveryAction.NONE, RecoveryAction.REINITIALISE, RecoveryAction.REJOIN
A, B = 1, 2

# Steps: (seconds on the clock, member, "ok" | "fail" | "settling", how many times) → every action answered, in order.
Step = tuple[float, int, str, int]
CASES: dict[str, tuple[list[Step], list[RecoveryAction]]] = {
    "a few failures after a key change are tolerated": ([(0, A, "fail", 4)], []),
    "the limit itself is tolerated": ([(0, A, "fail", 5)], []),
    "one past the limit re-keys": ([(0, A, "fail", 6)], [REINIT]),
    "a success in between starts the count again": ([(0, A, "fail", 5), (0, A, "ok", 1), (0, A, "fail", 5)], []),
    "failures during a transition or re-init do not count": ([(0, A, "settling", 100), (0, A, "fail", 5)], []),
    "another member being heard does not hide one who is not": (
        [(0, A, "fail", 3), (0, B, "ok", 1), (0, A, "fail", 3), (0, B, "ok", 1)],
        [REINIT],
    ),
    "at most one re-key per cooldown": ([(0, A, "fail", 6), (9.9, A, "fail", 100)], [REINIT]),
    "another re-key after the cooldown": ([(0, A, "fail", 6), (10, A, "fail", 6)], [REINIT, REINIT]),
    "re-keying twice without anyone's frames back rejoins": (
        [(0, A, "fail", 6), (10, A, "fail", 6), (20, B, "fail", 6)],
        [REINIT, REINIT, REJOIN],
    ),
    "a member's frames back between re-keys keeps it to re-keying": (
        [(0, A, "fail", 6), (10, A, "ok", 1), (10, A, "fail", 6), (20, A, "ok", 1), (20, A, "fail", 6)],
        [REINIT, REINIT, REINIT],
    ),
    "one member still unheard while others are: no more re-keys for their sake": (
        [(0, A, "fail", 6), (5, B, "ok", 1), (10, A, "fail", 6), (15, B, "ok", 1), (20, A, "fail", 60)],
        [REINIT, REINIT],
    ),
    "after a rejoin the next trouble re-keys first": (
        [(0, A, "fail", 6), (10, A, "fail", 6), (20, A, "fail", 6), (30, A, "fail", 6)],
        [REINIT, REINIT, REJOIN, REINIT],
    ),
}


@pytest.mark.parametrize("steps,expected", list(CASES.values()), ids=list(CASES))
def test_recovery_policy(steps: list[Step], expected: list[RecoveryAction]) -> None:
    policy = DaveRecovery(failure_limit=5, cooldown_s=10, max_reinits=2)
    actions: list[RecoveryAction] = []
    for now, member, what, times in steps:
        for _ in range(times):
            if what == "ok":
                policy.succeeded(member)
            elif (answer := policy.failed(now, member, settling=what == "settling")) is not NONE:
                actions.append(answer)
    assert actions == expected


def test_a_new_voice_session_starts_counting_afresh_and_keeps_the_totals() -> None:
    policy = DaveRecovery(failure_limit=1, cooldown_s=5, max_reinits=1)
    answers = [policy.failed(t, A, settling=False) for t in (0, 0, 5, 5)]
    assert answers == [NONE, REINIT, NONE, REJOIN]
    policy.failed(10, A, settling=False)
    policy.new_session()
    assert policy.failed(10, A, settling=False) is NONE  # the count started again
    assert policy.failed(10, A, settling=False) is REINIT
    assert (policy.reinitialisations, policy.rejoins) == (2, 1)
