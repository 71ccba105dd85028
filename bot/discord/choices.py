"""Autocomplete choices within Discord's limits: at most 25, each name and string value at most 100 characters."""

from __future__ import annotations

from collections.abc import Iterable

MAX_CHOICES = 25
CHOICE_LIMIT = 100


def name_choices(names: Iterable[str]) -> list[tuple[str, str]]:
    """Each name as its own choice. A name longer than a choice's value may be is left out: one such choice makes
    Discord refuse the whole answer, and the name can still be typed in full."""
    return [(name, name) for name in names if len(name) <= CHOICE_LIMIT][:MAX_CHOICES]
