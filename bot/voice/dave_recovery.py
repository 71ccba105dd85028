"""When a DAVE member whose frames stop decrypting is re-keyed (op 31 and a fresh key package) or the bot rejoins.

A pure policy over failed and successful decryptions, with an injectable clock: the DAVE participant asks it after
every decryption and does what it answers. Failures only count while the group is settled: during a pending
transition or a re-initialisation a few undecryptable frames are expected (frames sent under the old or the new key
slip past). Past `failure_limit` consecutive failures from one member (discord.js: 36; a good connection loses about 4
at a key change, and 5 to 24 right after re-initialising) the group state is taken to be out of step: re-initialise,
at most once per `cooldown_s`. Failures are counted per member so that others talking in between do not hide one
member who cannot be heard. When `max_reinits` re-initialisations in a row brought nobody's frames back, the bot's own
state is broken: rejoin the channel. When others are heard but one member still is not after `max_reinits`, re-keying
again would only interrupt everyone else for that member's sake: the policy waits until that member decrypts again
(or a new voice session starts).
"""

from __future__ import annotations

import enum

import attrs

DEFAULT_FAILURE_LIMIT = 36
DEFAULT_COOLDOWN_S = 10.0
DEFAULT_MAX_REINITS = 2


class RecoveryAction(enum.Enum):
    NONE = "none"
    # Send op 31 with the last transition id, re-initialise the MLS session and send a new key package.
    REINITIALISE = "reinitialise"
    # Leave and rejoin the channel: a new voice session and a new group (the last resort).
    REJOIN = "rejoin"


@attrs.define
class DaveRecovery:
    """Counts consecutive DAVE decryption failures per member of one voice session and says when to recover."""

    failure_limit: int = DEFAULT_FAILURE_LIMIT
    cooldown_s: float = DEFAULT_COOLDOWN_S
    max_reinits: int = DEFAULT_MAX_REINITS
    # Shown by /voice status: how often the bot re-keyed, and rejoined, over the connection's life.
    reinitialisations: int = 0
    rejoins: int = 0
    _failures: dict[int, int] = attrs.field(factory=dict[int, int])
    # Re-initialisations each member's failures caused since that member last decrypted.
    _caused: dict[int, int] = attrs.field(factory=dict[int, int])
    # Re-initialisations since anyone's frame last decrypted.
    _reinits_unanswered: int = 0
    _last_action_at: float | None = None

    def new_session(self) -> None:
        """A new voice session (IDENTIFY, rejoin): a new group, nothing carried over but the totals."""
        self._failures.clear()
        self._caused.clear()
        self._reinits_unanswered = 0

    def succeeded(self, user_id: int) -> None:
        self._failures.pop(user_id, None)
        self._caused.pop(user_id, None)
        self._reinits_unanswered = 0

    def failed(self, now: float, user_id: int, *, settling: bool) -> RecoveryAction:
        """A frame from `user_id` did not decrypt; `settling` while a transition is pending or a re-init runs."""
        if settling:
            return RecoveryAction.NONE
        failures = self._failures[user_id] = self._failures.get(user_id, 0) + 1
        if failures <= self.failure_limit:
            return RecoveryAction.NONE
        if self._last_action_at is not None and now - self._last_action_at < self.cooldown_s:
            return RecoveryAction.NONE
        if self._reinits_unanswered >= self.max_reinits:
            self._last_action_at = now
            self.new_session()
            self.rejoins += 1
            return RecoveryAction.REJOIN
        if self._caused.get(user_id, 0) >= self.max_reinits:
            return RecoveryAction.NONE
        self._last_action_at = now
        self._failures.clear()
        self._caused[user_id] = self._caused.get(user_id, 0) + 1
        self._reinits_unanswered += 1
        self.reinitialisations += 1
        return RecoveryAction.REINITIALISE
