"""Scorecard arithmetic: wins, ties, losses and means over the questions both models got a score for."""

from __future__ import annotations

import pytest

from bot.evaluation.scorecard import scorecard
from bot.store.model_tests import EvalItem, EvalQuestion, Side


def item(position: int, new: int | None, current: int | None, new_verdict: str | None = None) -> EvalItem:
    return EvalItem(
        position,
        EvalQuestion("q", "a"),
        Side("x", new, new_verdict, None, 0.5),
        Side("y", current, None, None, 0.25),
    )


def test_scorecard_counts_wins_ties_losses_and_means_over_questions_both_models_got_a_score_for() -> None:
    card = scorecard(
        [
            item(0, 9, 3, "correct"),
            item(1, 8, 8, "correct"),
            item(2, 2, 6),
            item(3, None, 10),  # the judge failed on one side: not counted against either model
            item(4, 10, 4, "correct"),
        ]
    )
    assert (card.total, card.graded, card.wins, card.ties, card.losses) == (5, 4, 2, 1, 1)
    assert card.model_mean == pytest.approx((9 + 8 + 2 + 10) / 4)
    assert card.against_mean == pytest.approx((3 + 8 + 6 + 4) / 4)
    assert card.model_correct == 3 and card.against_correct == 0
    assert card.model_similarity == pytest.approx(0.5) and not card.worse
    assert scorecard([item(0, 1, 9)]).worse
