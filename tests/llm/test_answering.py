"""How a question becomes model input: the context that fits the budget, the checks on the question."""

from __future__ import annotations

import pytest

from bot.errors import InvalidInput
from bot.llm.answering import Answerer, fit_context
from bot.llm.chat import ChatMessage
from bot.llm.settings import LLMSettings
from bot.store.answers import Turn


def words(text: str) -> int:
    return len(text.split())


def turn(i: int) -> Turn:
    return Turn(question=f"question {i} here", answer=f"answer {i} here", conversation_id="c")


def test_the_newest_turns_that_fit_the_budget_are_kept_in_order() -> None:
    turns = [turn(i) for i in range(5)]
    # system 2 words + question 1 word + each turn 6 words: a budget of 15 keeps the two newest turns.
    messages = fit_context("be brief", turns, "now?", budget=15, count=words)
    assert messages == [
        ChatMessage("system", "be brief"),
        ChatMessage("user", "question 3 here"),
        ChatMessage("assistant", "answer 3 here"),
        ChatMessage("user", "question 4 here"),
        ChatMessage("assistant", "answer 4 here"),
        ChatMessage("user", "now?"),
    ]


def test_no_system_prompt_and_no_room_leave_just_the_question() -> None:
    assert fit_context("", [turn(1)], "alone?", budget=2, count=words) == [ChatMessage("user", "alone?")]


def test_a_turn_that_does_not_fit_stops_older_ones_from_jumping_the_queue() -> None:
    long = Turn(question="long " * 50, answer="x", conversation_id="c")
    messages = fit_context("", [turn(0), long, turn(2)], "q", budget=10, count=words)
    assert [m.content for m in messages] == ["question 2 here", "answer 2 here", "q"]


def test_questions_are_trimmed_and_empty_or_over_long_ones_refused() -> None:
    answerer = Answerer(None, None, None, None, LLMSettings(max_question_chars=10))  # type: ignore[arg-type]
    assert answerer.check("  hello  ") == "hello"
    with pytest.raises(InvalidInput, match="empty"):
        answerer.check("   ")
    with pytest.raises(InvalidInput, match="11 characters long; the limit is 10"):
        answerer.check("x" * 11)
