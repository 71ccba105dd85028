"""When a DAVE member whose frames stop decrypting is re-keyed (op 31 and a fresh key package) or the bot rejoins.

A pure policy over failed and successful decryptions, with an injectable clock: the DAVE participant asks it after
every decryption and does what it answers. Failures only count while the group is settled: during a pending
transition or a re-initialisation a few undecryptable frames are expected (frames sent under the old or the new key
slip past). Past `failure_limit` consecutive failures (discord.js: 36; a good connection loses about 4 at a key
change, and 5 to 24 right after re-initialising) the group state is taken to be out of step: re-initialise, at most
once per `cooldown_s`; when that has not brought any frame back `max_reinits` times in a row, rejoin the channel.
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
    """Counts consecutive DAVE decryption failures and says when to recover."""

    failure_limit: int = DEFAULT_FAILURE_LIMIT
    cooldown_s: float = DEFAULT_COOLDOWN_S
    max_reinits: int = DEFAULT_MAX_REINITS
    consecutive_failures: int = 0
    # Re-initialisations since a frame last decrypted: when they do not help, rejoin.
    reinits_without_success: int = 0
    reinitialisations: int = 0
    rejoins: int = 0
    last_action_at: float | None = None

    def succeeded(self) -> None:
        self.consecutive_failures = 0
        self.reinits_without_success = 0

    def failed(self, now: float, *, settling: bool) -> RecoveryAction:
        """A frame did not decrypt; `settling` while a transition is pending or a re-initialisation runs."""
        if settling:
            return RecoveryAction.NONE
        self.consecutive_failures += 1
        if self.consecutive_failures <= self.failure_limit:
            return RecoveryAction.NONE
        if self.last_action_at is not None and now - self.last_action_at < self.cooldown_s:
            return RecoveryAction.NONE
        self.last_action_at = now
        self.consecutive_failures = 0
        if self.reinits_without_success >= self.max_reinits:
            self.reinits_without_success = 0
            self.rejoins += 1
            return RecoveryAction.REJOIN
        self.reinits_without_success += 1
        self.reinitialisations += 1
        return RecoveryAction.REINITIALISE
