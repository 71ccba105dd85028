"""One ranking of the corrections found by words and by meaning (reciprocal rank fusion)."""

from __future__ import annotations

from bot.llm.references import fuse
from bot.store.correction_search import Found


def _found(i: int) -> Found:
    return Found(i, f"question {i}", f"answer {i}")


def test_a_correction_found_by_words_and_by_meaning_ranks_above_those_found_one_way() -> None:
    by_words = [_found(1), _found(2)]
    by_meaning = [_found(3), _found(2)]
    assert [f.id for f in fuse(by_words, by_meaning)] == [2, 1, 3]


def test_fusing_adds_no_correction_that_neither_ranking_kept() -> None:
    assert fuse([], []) == []
    assert [f.id for f in fuse([_found(4)], [])] == [4]
    assert [f.id for f in fuse([], [_found(5), _found(6)])] == [5, 6]
