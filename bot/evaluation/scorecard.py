"""The scorecard of a model test: wins, ties and losses per question, and each model's mean score."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import attrs

from bot.store.model_tests import EvalItem, ModelTest, ModelTestStore


@attrs.frozen
class Scorecard:
    total: int  # questions asked
    graded: int  # questions where both answers got a score (wins + ties + losses)
    wins: int  # the tested model scored higher
    ties: int
    losses: int
    model_mean: float | None  # mean score 0-10 over the graded questions
    against_mean: float | None
    model_correct: int  # answers the judge called correct, out of `total`
    against_correct: int
    model_similarity: float | None  # mean token F1 with the expected answer, 0-1
    against_similarity: float | None

    @property
    def worse(self) -> bool:
        """The tested model scored lower than the one it was tested against."""
        if self.model_mean is None or self.against_mean is None:
            return False
        return self.model_mean < self.against_mean


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def scorecard(items: Sequence[EvalItem]) -> Scorecard:
    pairs = [(i.model.score, i.against.score) for i in items]
    pairs = [(m, a) for m, a in pairs if m is not None and a is not None]
    return Scorecard(
        total=len(items),
        graded=len(pairs),
        wins=sum(1 for m, a in pairs if m > a),
        ties=sum(1 for m, a in pairs if m == a),
        losses=sum(1 for m, a in pairs if m < a),
        model_mean=_mean([m for m, _ in pairs]),
        against_mean=_mean([a for _, a in pairs]),
        model_correct=sum(1 for i in items if i.model.verdict == "correct"),
        against_correct=sum(1 for i in items if i.against.verdict == "correct"),
        model_similarity=_mean([i.model.similarity for i in items if i.model.similarity is not None]),
        against_similarity=_mean([i.against.similarity for i in items if i.against.similarity is not None]),
    )


async def stored_scorecard(store: ModelTestStore, test: ModelTest | None) -> Scorecard | None:
    """The scorecard of a finished test (None while it runs, when it failed, or without a test)."""
    if test is None or test.status != "done":
        return None
    return scorecard(await store.items(test.id))
