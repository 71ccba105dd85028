"""Provider models' announced shutdown dates: which model (or the base of a fine-tune) stops answering, and when."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping

import attrs

# Injected wherever a date decides something (shutdowns, the fine-tuning cut-off), so tests set the day.
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# OpenAI's deprecations page (developers.openai.com/api/docs/deprecations), read 2026-12-06: the gpt-4o and gpt-4.1
# families and every fine-tune built on them shut down 2027-01-14 (notice of 2026-10-14); the /audio/speech models
# on 2027-01-06. Operators extend or correct this in config.toml ([llm.shutdowns]).
KNOWN_SHUTDOWNS: dict[str, str] = {
    "gpt-4o": "2027-01-14",
    "gpt-4o-2024-08-06": "2027-01-14",
    "gpt-4o-2024-11-20": "2027-01-14",
    "gpt-4o-mini": "2027-01-14",
    "gpt-4o-mini-2024-07-18": "2027-01-14",
    "gpt-4.1": "2027-01-14",
    "gpt-4.1-2025-04-14": "2027-01-14",
    "gpt-4.1-mini": "2027-01-14",
    "gpt-4.1-mini-2025-04-14": "2027-01-14",
    "tts-1": "2027-01-06",
    "tts-1-hd": "2027-01-06",
    "gpt-4o-mini-tts": "2027-01-06",
}


def date_text(_instance: object, attribute: attrs.Attribute[dict[str, str]], value: dict[str, str]) -> None:
    """attrs validator: every value a date written YYYY-MM-DD."""
    for model, text in value.items():
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{attribute.name}: {model!r} needs a date like 2027-01-14, got {text!r}") from None


def base_of(model: str) -> str:
    """The model a fine-tune was built on (`ft:base:org:suffix:id` → base); any other name is its own base."""
    if model.startswith("ft:") and model.count(":") >= 2:
        return model.split(":")[1]
    return model


@attrs.frozen
class Shutdown:
    model: str  # the model asked about
    listed: str  # the name on the shutdown list: the model, its base, or the base's undated name
    date: dt.date

    def days_left(self, now: dt.datetime) -> int:
        return (self.date - now.date()).days


def shutdown_of(model: str, shutdowns: Mapping[str, str]) -> Shutdown | None:
    """When `model` stops answering: its own date, else its base's (a fine-tune dies with its base), else the date of
    the base's undated name (a dated snapshot of a listed family)."""
    base = base_of(model)
    undated = re.sub(r"-\d{4}-\d{2}-\d{2}$", "", base)
    for name in (model, base, undated):
        if name in shutdowns:
            return Shutdown(model, name, dt.date.fromisoformat(shutdowns[name]))
    return None
