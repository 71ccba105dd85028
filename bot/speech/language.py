"""The language of a text, guessed cheaply for picking a voice: the Unicode script first, then a few common words
for languages written in Latin letters. None when unsure (the caller falls back to a hint or the default voice)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# Script (the first word of a character's Unicode name) → language, for scripts that mostly mean one language here.
_SCRIPTS = {
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "HANGUL": "ko",
    "ARABIC": "ar",
    "HEBREW": "he",
    "GREEK": "el",
    "DEVANAGARI": "hi",
    "THAI": "th",
    "CJK": "zh",
}
_UKRAINIAN_LETTERS = set("іїєґІЇЄҐ")
# A handful of frequent words that are rare in the other languages listed.
_WORDS = {
    "en": {"the", "and", "is", "are", "of", "to", "you", "it", "that", "with", "this", "what"},
    "fr": {"le", "la", "les", "est", "et", "des", "une", "vous", "pas", "je", "dans", "pour", "que", "c'est"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "ich", "sie", "mit", "ein", "eine", "auf", "wie"},
    "es": {"el", "los", "las", "es", "y", "que", "una", "por", "para", "con", "del", "está", "qué", "muy"},
    "it": {"il", "che", "è", "di", "gli", "una", "per", "non", "sono", "della", "questo", "come", "anche"},
    "pt": {"o", "os", "que", "não", "uma", "para", "com", "é", "do", "da", "você", "são", "isso", "muito"},
    "pl": {"jest", "nie", "się", "to", "że", "na", "w", "z", "jak", "co", "czy", "są", "tak", "dla"},
    "nl": {"de", "het", "een", "is", "en", "niet", "van", "ik", "je", "dat", "met", "zijn", "wat"},
    "tr": {"bir", "ve", "bu", "için", "ne", "değil", "çok", "ile", "da", "mi", "var", "gibi"},
}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else ""


def detect_language(text: str) -> str | None:
    """ "ru", "ja", "es", … or None when the text gives no clear sign."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    scripts = Counter(_script(ch) for ch in letters)
    script, count = scripts.most_common(1)[0]
    if script == "CYRILLIC" and count * 2 > len(letters):
        return "uk" if any(ch in _UKRAINIAN_LETTERS for ch in text) else "ru"
    if scripts["HIRAGANA"] + scripts["KATAKANA"]:
        return "ja"  # Japanese mixes kana with CJK ideographs
    if script in _SCRIPTS and count * 2 > len(letters):
        return _SCRIPTS[script]
    if script != "LATIN":
        return None
    words = [w.lower() for w in _WORD.findall(text)]
    hits = Counter({lang: sum(w in common for w in words) for lang, common in _WORDS.items()})
    ranked = hits.most_common(2)
    best, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    return best if score >= 2 and score > runner_up else None


def voice_language(text: str, hint: str | None) -> str | None:
    """The language to speak `text` in: what it is written in, else `hint` (e.g. the spoken question's language)."""
    return detect_language(text) or (hint.split("-")[0].lower() if hint else None)
