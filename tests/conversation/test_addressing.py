"""Addressing: every utterance in "all" mode; in "name" mode only those that call the bot, with the name removed."""

from __future__ import annotations

import pytest

from bot.conversation.addressing import addressed_question


@pytest.mark.parametrize(
    ("heard", "question"),
    [
        ("Hey Teachbot, what is the capital of France?", "What is the capital of France?"),
        ("What is the capital of France, Teach Bot?", "What is the capital of France?"),
        ("teach-bot what time is it", "What time is it"),
        ("TEACHBOT. Tell me about Mars.", "Tell me about Mars."),
        ("Tichbot: how far is the moon?", "How far is the moon?"),
        ("Okay, Teachbot's turn: explain gravity.", "Turn: explain gravity."),
    ],
)
def test_name_mode_answers_when_called_and_strips_the_name(heard: str, question: str) -> None:
    assert addressed_question(heard, "name", ["teachbot"]) == question


@pytest.mark.parametrize(
    "heard", ["I think the weather on Mars is cold.", "Did you see the match?", "Teachbot?", "  ", "Teacher, wait."]
)
def test_name_mode_ignores_side_talk(heard: str) -> None:
    assert addressed_question(heard, "name", ["teachbot"]) is None


def test_all_mode_answers_everything_and_still_strips_a_name() -> None:
    assert addressed_question("Did you see the match?", "all", ["teachbot"]) == "Did you see the match?"
    assert addressed_question("Teachbot, hello.", "all", ["teachbot"]) == "Hello."


def test_any_configured_name_counts() -> None:
    assert addressed_question("Computer, status report.", "name", ["teachbot", "computer"]) == "Status report."
