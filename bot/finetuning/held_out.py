"""The held-out test set: a stable share of approved corrections, chosen by a hash of each correction's id, that no
training dataset built from corrections ever holds (so /model test asks questions no model was trained on)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import attrs

from bot.finetuning.settings import TrainingSettings
from bot.store.corrections import Correction


def position(correction_id: int) -> float:
    """Where the id falls in [0, 1): fixed forever, unrelated to when or by whom the correction was made."""
    digest = hashlib.sha256(f"teachbot held-out {correction_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@attrs.frozen
class Split:
    training: list[Correction]
    held_out: list[Correction]


def split(corrections: Iterable[Correction], share: float, minimum: int) -> Split:
    """Approved corrections into those to train on and those kept for testing (order kept).

    Held out: every correction whose position is below `share`, and, once there are 4 × `minimum` corrections, the
    `minimum` with the lowest positions (so at least a handful). From then on, as corrections accumulate, a
    correction can leave the test set for training but one that was trained on never becomes a test question (the
    lowest positions only get lower). Only the moment the minimum first applies may move a few trained-on
    corrections into the test set."""
    items = list(corrections)
    held = {c.id for c in items if position(c.id) < share} if share > 0 else set[int]()
    if share > 0 and minimum > 0 and len(items) >= 4 * minimum:
        held |= {c.id for c in sorted(items, key=lambda c: position(c.id))[:minimum]}
    return Split([c for c in items if c.id not in held], [c for c in items if c.id in held])


def split_approved(corrections: Iterable[Correction], settings: TrainingSettings) -> Split:
    return split(corrections, settings.held_out_share, settings.held_out_min)
