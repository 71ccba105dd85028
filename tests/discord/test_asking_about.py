"""Asking about someone's message: what the model is told of the message and its pictures, and the quote shown above
the answer, which pings nobody."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bot.discord.asking_about import question_about, quoted
from tests.discord.test_attachments import attachment


def message(content: str, *files: str, author: str = "ada") -> Any:
    return SimpleNamespace(
        content=content,
        author=user(None, author),
        attachments=[attachment(name, 1000, "image/png" if name.endswith(".png") else None) for name in files],
    )


def user(global_name: str | None, username: str) -> Any:
    return SimpleNamespace(global_name=global_name, username=username)


def test_the_model_is_told_whose_message_it_is_and_how_many_of_its_pictures_it_sees() -> None:
    about = question_about(message("Is 2 + 2 = 5?", "a.png", "b.png", "notes.txt"), "Is this right?", pictures=1)
    assert about == (
        'A message by ada:\n"""\nIs 2 + 2 = 5?\n"""\n(with 1 picture(s), attached)\n'
        "(and 1 picture(s) you cannot see)\n\nQuestion about it: Is this right?"
    )


def test_a_message_with_only_a_picture_is_still_asked_about() -> None:
    assert question_about(message("", "a.png"), "What is this?", pictures=1) == (
        "A message by ada:\n(with 1 picture(s), attached)\n\nQuestion about it: What is this?"
    )


def test_the_quote_above_the_answer_shows_both_sides_and_mentions_ping_nobody() -> None:
    asker = user("Grace", "grace")
    shown = quoted(message("hey @everyone look  at\nthis", "a.png", author="<@123>"), "what   is @here?", asker)
    assert shown == "> **<@\u200b123>**: hey @\u200beveryone look at this 🖼️×1\n**Grace** asks: what is @\u200bhere?\n\n"


def test_a_long_message_is_quoted_short_but_given_to_the_model_whole() -> None:
    long = "word " * 200
    asker = user(None, "grace")
    assert len(quoted(message(long), "why?", asker).splitlines()[0]) < 320
    assert long.strip() in question_about(message(long), "why?", pictures=0)
