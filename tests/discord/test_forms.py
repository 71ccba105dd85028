"""Modal forms: prefilled text cut to fit the field, labels within Discord's 45 characters, and what was submitted."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bot.discord.forms import LABEL_LIMIT, Field, prefill, rows, submitted


def test_a_prefilled_value_longer_than_the_field_is_cut_with_an_ellipsis() -> None:
    assert prefill("short", 10) == "short"
    assert prefill("x" * 11, 10) == "x" * 9 + "…"


def test_fields_are_built_within_discord_s_limits() -> None:
    (built,) = rows([Field("answer", "A label far longer than Discord lets a label be", value="y" * 50, max_length=20)])
    (text_input,) = built.build()[0]["components"]
    assert len(text_input["label"]) == LABEL_LIMIT
    assert text_input["value"] == "y" * 19 + "…" and text_input["max_length"] == 20
    assert text_input["custom_id"] == "answer" and text_input["required"] is False


def test_what_was_submitted_is_read_by_field_and_empty_fields_are_empty_text() -> None:
    def row(custom_id: str, value: str | None) -> Any:
        return SimpleNamespace(components=[SimpleNamespace(custom_id=custom_id, value=value)])

    interaction: Any = SimpleNamespace(components=[row("question", "Why?"), row("note", None)])
    assert submitted(interaction) == {"question": "Why?", "note": ""}
