"""/persona: an empty or over-long prompt is refused with its length, where the prompt in effect comes from, and a
long prompt shown as a file so the message stays within Discord's limit."""

from __future__ import annotations

import pytest

from bot.discord.personas import SHOWN_INLINE, check_prompt, persona_view, where
from bot.errors import InvalidInput
from bot.store.personas import Persona


def test_a_prompt_is_trimmed_and_an_empty_or_too_long_one_is_refused() -> None:
    assert check_prompt("  You are a pirate.\n", 100) == "You are a pirate."
    with pytest.raises(InvalidInput, match="The persona is empty"):
        check_prompt(" \n ", 100)
    with pytest.raises(InvalidInput, match=r"^The persona is 2,500 characters long; the limit is 2,000\.$"):
        check_prompt("x" * 2500, 2000)


def test_the_prompt_in_effect_names_where_it_comes_from() -> None:
    assert where(None) == "the bot's default"
    assert where(Persona("p", "server")) == "this server's persona"
    assert where(Persona("p", "channel", 42)) == "this channel's persona (<#42>)"


def test_a_short_prompt_is_quoted_without_breaking_its_code_block() -> None:
    text, file = persona_view("Persona here:", "Answer in ```verse```.")
    assert text == "Persona here:\n```\nAnswer in '''verse'''.\n```" and file is None


def test_a_long_prompt_comes_as_a_text_file() -> None:
    prompt = "Be kind. " * 400
    text, file = persona_view("Persona here:", prompt)
    assert text == f"Persona here:\n(the prompt is {len(prompt):,} characters: attached)"
    assert len(prompt) > SHOWN_INLINE and file is not None and file.filename == "persona.txt"
