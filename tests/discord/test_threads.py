"""The name of the thread a conversation opens: the question's first line, made to fit Discord's 100 characters."""

from __future__ import annotations

from bot.discord.threads import thread_name


def test_the_thread_is_named_after_the_question_s_first_line_with_spacing_tidied() -> None:
    assert thread_name("  How many   moons\tdoes Mars have?\nI read it was three.") == "How many moons does Mars have?"


def test_a_long_question_is_cut_to_100_characters_with_an_ellipsis() -> None:
    name = thread_name("why " * 40)
    assert len(name) == 100 and name.endswith("…") and name.startswith("why why")


def test_a_question_with_no_words_still_opens_a_named_thread() -> None:
    assert thread_name("") == thread_name("  \n ") == "Conversation"
