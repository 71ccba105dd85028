"""The judge's verdicts are read strictly, and answers are compared by token F1."""

from __future__ import annotations

import pytest

from bot.evaluation.grading import parse_grade, token_f1


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"score": 11, "verdict": "correct", "reason": "x"}',
        '{"score": 7.5, "verdict": "correct", "reason": "x"}',
        '{"score": true, "verdict": "correct", "reason": "x"}',
        '{"score": 7, "verdict": "great", "reason": "x"}',
        '{"score": 7, "verdict": "correct"}',
        '{"score": 7, "verdict": "correct", "reason": "x", "extra": 1}',
        '["score", 7]',
        '```json\n{"score": 7, "verdict": "correct", "reason": "x"}\n```',
    ],
)
def test_the_judge_must_answer_exactly_the_rubrics_json(text: str) -> None:
    assert parse_grade(text) is None


def test_a_well_formed_verdict_is_read_and_similarity_is_token_f1() -> None:
    grade = parse_grade('{"score": 8, "verdict": "partly", "reason": " Misses Deimos. "}')
    assert grade is not None and (grade.score, grade.verdict, grade.reason) == (8, "partly", "Misses Deimos.")
    assert token_f1("Canberra is the capital", "The capital is Canberra") == 1.0
    assert token_f1("Sydney", "Canberra") == 0.0
