"""When a model stops answering: its own announced date, its base's for a fine-tune, its family's for a dated
snapshot; operators' dates must be real dates."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from bot.llm.retirements import KNOWN_SHUTDOWNS, base_of, date_text, shutdown_of

SHUTDOWNS = {"gpt-4o": "2027-01-14", "gpt-4o-2024-08-06": "2026-12-31", "tts-1": "2027-01-06"}


def test_a_model_on_the_list_stops_on_its_own_date_counted_in_days_left() -> None:
    found = shutdown_of("tts-1", SHUTDOWNS)
    assert found is not None and (found.listed, found.date) == ("tts-1", dt.date(2027, 1, 6))
    assert found.days_left(dt.datetime(2027, 1, 1, 23, 59, tzinfo=dt.UTC)) == 5


def test_a_fine_tune_stops_with_its_base_and_a_dated_snapshot_with_its_family() -> None:
    fine_tune = shutdown_of("ft:gpt-4o-2024-11-20:acme:helper:abc123", SHUTDOWNS)
    assert fine_tune is not None and (fine_tune.listed, fine_tune.date) == ("gpt-4o", dt.date(2027, 1, 14))
    own_date = shutdown_of("ft:gpt-4o-2024-08-06:acme::x", SHUTDOWNS)  # a listed snapshot keeps its own date
    assert own_date is not None and own_date.listed == "gpt-4o-2024-08-06"
    assert shutdown_of("gpt-4o-mini", SHUTDOWNS) is None  # another model, not a snapshot of gpt-4o
    assert shutdown_of("ft:gpt-4.1-nano:acme::y", SHUTDOWNS) is None


def test_only_openai_fine_tune_names_have_a_base() -> None:
    assert base_of("ft:gpt-4o-mini:acme:helper:1") == "gpt-4o-mini"
    assert base_of("ft:x") == "ft:x" and base_of("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"


def test_an_operator_s_date_that_is_not_a_date_is_named_with_the_model() -> None:
    @attrs.define
    class Settings:
        shutdowns: dict[str, str] = attrs.field(validator=date_text)

    Settings(dict(KNOWN_SHUTDOWNS))
    with pytest.raises(ValueError, match=r"shutdowns: 'gpt-4o' needs a date like 2027-01-14, got '14\.01\.2027'"):
        Settings({"gpt-4o": "14.01.2027"})
