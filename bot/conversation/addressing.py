"""Whether an utterance is meant for the bot, and the question left once the bot's name is taken out."""

from __future__ import annotations

import difflib
import re

from bot.conversation.settings import AddressingMode

_WORD = re.compile(r"[\w']+")
# Words people put before a name to call someone; dropped with the name ("Hey teachbot, ...").
_CALLS = {"hey", "hi", "hello", "ok", "okay", "oh", "yo", "so", "and", "dear"}
# Whisper spells an unfamiliar name many ways ("Teach Bot", "teach-bot", "Teachbot's", "Tichbot"): compare letters only,
# and accept a close match once the name is long enough for closeness to mean something.
_MIN_FUZZY_LETTERS = 5
_FUZZY_RATIO = 0.8


def _letters(text: str) -> str:
    return re.sub(r"[^\w]|_", "", text.lower()).removesuffix("'s")


def _matches(candidate: str, name: str) -> bool:
    if candidate == name:
        return True
    if len(name) < _MIN_FUZZY_LETTERS or abs(len(candidate) - len(name)) > 2:
        return False
    return difflib.SequenceMatcher(None, candidate, name).ratio() >= _FUZZY_RATIO


def find_name(text: str, names: list[str]) -> tuple[int, int] | None:
    """Character span of the first mention of one of `names` in `text`, tolerant of spacing, case and spelling."""
    words = list(_WORD.finditer(text))
    targets = [n for n in (_letters(name) for name in names) if n]
    for i in range(len(words)):
        # A name may be heard as up to three words ("teach bot", "tea ch bot").
        for width in (1, 2, 3):
            if i + width > len(words):
                break
            span = words[i : i + width]
            candidate = _letters("".join(w.group() for w in span))
            if any(_matches(candidate, t) for t in targets):
                return span[0].start(), span[-1].end()
    return None


def strip_name(text: str, span: tuple[int, int]) -> str:
    """The text without the name, a call word just before it, and the punctuation that set it off."""
    before, after = text[: span[0]], text[span[1] :]
    before = before.rstrip(" ,")
    last = _WORD.findall(before)
    if last and last[-1].lower() in _CALLS and before.lower().endswith(last[-1].lower()):
        before = before[: len(before) - len(last[-1])].rstrip(" ,")
    after = re.sub(r"^'s\b", "", after)
    after = after.lstrip(" ,:;!.") if not before.strip() else re.sub(r"^\s*,", "", after)
    joined = (
        f"{before} {after}".strip() if before and after and not after.startswith(("?", "!", ".")) else before + after
    )
    joined = re.sub(r"\s+", " ", joined).strip(" ,")
    return joined[:1].upper() + joined[1:] if joined else ""


def addressed_question(text: str, mode: AddressingMode, names: list[str]) -> str | None:
    """The question to answer, or None when the utterance is not for the bot (side talk in "name" mode)."""
    text = text.strip()
    if not text:
        return None
    span = find_name(text, names)
    if span is None:
        return text if mode == "all" else None
    question = strip_name(text, span)
    # "Teachbot?" alone calls the bot without asking anything.
    return question if _WORD.search(question) else None
