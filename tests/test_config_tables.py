from __future__ import annotations

from typing import Literal

import attrs
import pytest

from bot.config_tables import SettingsProblems, build_settings, positive


@attrs.frozen
class Inner:
    size: int = attrs.field(default=3, validator=positive)


@attrs.frozen
class Outer:
    name: str
    mode: Literal["a", "b"] = "a"
    ratio: float = 1.0
    tags: list[str] = attrs.field(factory=list)
    inner: Inner = attrs.field(factory=Inner)
    maybe: int | None = None


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsProblems) as info:
        build_settings(Outer, {"mode": "c", "ratio": "x", "inner": {"size": 0}, "typo": 1, "tags": [1]}, "sec")
    text = "\n".join(info.value.problems)
    assert "sec.name: required setting is missing" in text
    assert "sec.mode: must be one of 'a', 'b'" in text
    assert "sec.ratio: expected a number" in text
    assert "size must be greater than 0" in text
    assert "sec.typo: unknown setting" in text
    assert "sec.tags[0]: expected text" in text


def test_defaults_and_conversion() -> None:
    value = build_settings(Outer, {"name": "x", "ratio": 2, "maybe": None})
    assert value == Outer(name="x", ratio=2.0)
