"""The held-out test set: a stable share of approved corrections, chosen by a hash of each correction's id, that no
training dataset built from corrections ever holds (so /model test asks questions no model was trained on)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import attrs

from bot.store.corrections import Correction
from bot.training.settings import TrainingSettings


def position(correction_id: int) -> float:
    """Where the id falls in [0, 1): fixed forever, unrelated to when or by whom the correction was made."""
    digest = hashlib.sha256(f"teachbot held-out {correction_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def threshold(total: int, share: float, minimum: int) -> float:
    """Corrections whose position is below this are held out. With few corrections it is just `share`; once there
    are enough (4 × `minimum`) it is raised so that about `minimum` are held out. As corrections accumulate it only
    falls, so a correction can leave the test set for training but never the other way round."""
    if share <= 0:
        return 0.0
    if minimum > 0 and total >= 4 * minimum:
        return max(share, minimum / total)
    return share


@attrs.frozen
class Split:
    training: list[Correction]
    held_out: list[Correction]


def split(corrections: Iterable[Correction], share: float, minimum: int) -> Split:
    """Approved corrections into those to train on and those kept for testing (order kept)."""
    items = list(corrections)
    cut = threshold(len(items), share, minimum)
    training = [c for c in items if position(c.id) >= cut]
    held_out = [c for c in items if position(c.id) < cut]
    return Split(training, held_out)


def split_approved(corrections: Iterable[Correction], settings: TrainingSettings) -> Split:
    return split(corrections, settings.held_out_share, settings.held_out_min)
