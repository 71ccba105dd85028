"""Autocomplete answers Discord accepts: at most 25 choices, none longer than 100 characters."""

from __future__ import annotations

from bot.discord.choices import name_choices


def test_names_are_offered_as_typed_at_most_25() -> None:
    names = [f"model-{i}" for i in range(40)]
    assert name_choices(names) == [(n, n) for n in names[:25]]


def test_a_name_too_long_for_a_choice_is_left_out_and_the_others_still_offered() -> None:
    long_name = "ft:" + "x" * 98
    assert name_choices(["a", long_name, "b" * 100]) == [("a", "a"), ("b" * 100, "b" * 100)]
