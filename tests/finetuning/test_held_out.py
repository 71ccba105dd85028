"""The held-out split: stable by id, kept out of the training data, and only shrinking as corrections grow."""

from __future__ import annotations

import datetime as dt

from bot.finetuning.builder import corrections_dataset
from bot.finetuning.held_out import split
from bot.store.corrections import Correction

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _correction(i: int) -> Correction:
    return Correction(
        i, i, 5, 10, 1, 1, False, f"Question {i}?", "wrong", f"Right {i}.", None, None, None, "m", "approved",
        99, NOW, NOW, NOW,
    )  # fmt: skip


def test_the_held_out_set_is_stable_kept_out_of_training_data_and_only_shrinks_as_corrections_grow() -> None:
    corrections = [_correction(i) for i in range(1, 201)]
    first = split(corrections, 0.1, 5)
    again = split(list(reversed(corrections)), 0.1, 5)
    assert {c.id for c in first.held_out} == {c.id for c in again.held_out}  # by id, not by order
    assert 10 <= len(first.held_out) <= 30  # about a tenth
    data = corrections_dataset(first.training, "sft", None).decode()
    assert all(f'"Question {c.id}?"' not in data for c in first.held_out)
    assert all(f'"Question {c.id}?"' in data for c in first.training)
    assert len(split(corrections[:20], 0.1, 5).held_out) >= 5  # enough for at least a handful
    assert len(split(corrections[:10], 0.1, 5).held_out) < 5  # too few to spare many
    # Once the minimum applies, nothing trained on before becomes a test question later.
    for smaller, larger in [(20, 21), (21, 25), (25, 40), (40, 200)]:
        before = split(corrections[:smaller], 0.1, 5)
        after = split(corrections[:larger], 0.1, 5)
        assert not {c.id for c in before.training} & {c.id for c in after.held_out}
    assert split(corrections, 0.0, 5).held_out == []
