"""Cuts a streamed, growing answer into speakable sentences as soon as each one is complete."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

# Endings that do not end a sentence: abbreviations spoken mid-sentence.
_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "no", "approx", "fig", "cf",
    "a.m", "p.m", "u.s", "u.k", "inc", "ltd", "co", "mt", "dept", "est", "min", "max", "sec",
}  # fmt: skip
# A sentence ends at . ! ? … (and closing quotes/brackets) followed by whitespace, or at a line break.
_END = re.compile(r"(?:[.!?…]+[\"'”’)\]]*)(?=\s)|\n")
# A clause ends at a comma, semicolon, colon or dash followed by whitespace (so "1,000" and "3:30" do not).
_CLAUSE = re.compile(r"[,;:–—](?=\s)")
# A word that is complete: whitespace follows it.
_WORD = re.compile(r"\S+(?=\s)")
_FENCE = "```"


def speakable(text: str) -> str:
    """Markdown reduced to what a voice should say: no emphasis marks, heading hashes, bullets, links or inline code."""
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"^\s*(?:#{1,6}|[-*+]|\d+[.)])\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"(\*\*|__|\*|~~)(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    return re.sub(r"\s+", " ", text).strip()


class SentenceSplitter:
    """`feed(cumulative_text)` returns the sentences completed since the last call; `flush()` returns the rest.

    With `first_phrase_min_chars`, the first piece may end at a clause boundary (comma, semicolon, colon, dash) once
    it is at least that long: speech can start after the first natural phrase instead of the whole first sentence,
    as the fastest voice agents do. With `first_phrase_words`, a slow stream does not hold speech back either: once
    `first_phrase_wait_s` has passed since the first text and no boundary has come, the first piece ends after the last
    complete word, given at least that many (the next piece goes on from there). A fast stream, whose first clause
    or sentence comes within the wait, is cut at that boundary as before. Code blocks are not spoken (the text
    transcript has them); a long block never holds back later sentences.
    """

    def __init__(
        self,
        first_phrase_min_chars: int = 0,
        first_phrase_words: int = 0,
        first_phrase_wait_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._consumed: int = 0
        self._text = ""
        self._first_phrase_min = first_phrase_min_chars
        self._first_phrase_words = first_phrase_words
        self._first_phrase_wait_s = first_phrase_wait_s
        self._clock = clock
        self._started_at: float | None = None
        self._emitted = False

    def feed(self, cumulative: str) -> list[str]:
        self._text = cumulative
        if self._started_at is None and cumulative.strip():
            self._started_at = self._clock()
        return self._take(final=False)

    def flush(self) -> list[str]:
        return self._take(final=True)

    def _take(self, *, final: bool) -> list[str]:
        out: list[str] = []
        while True:
            rest = self._text[self._consumed :]
            fence = rest.find(_FENCE)
            prose = rest if fence < 0 else rest[:fence]
            cut = self._sentence_end(prose)
            if not self._emitted and (self._first_phrase_min > 0 or self._first_phrase_words > 0):
                phrase = self._phrase_end(prose)
                if phrase is not None and (cut is None or phrase < cut):
                    cut = phrase
            if cut is not None:
                self._emit(out, prose[:cut])
                self._consumed += cut
                continue
            if fence >= 0:
                # Speak what came before the code, then skip the block once it is closed.
                self._emit(out, prose)
                close = rest.find(_FENCE, fence + len(_FENCE))
                if close < 0:
                    if final:
                        self._consumed = len(self._text)
                    else:
                        self._consumed += fence
                    return out
                self._consumed += close + len(_FENCE)
                continue
            if final:
                self._emit(out, rest)
                self._consumed = len(self._text)
            return out

    @staticmethod
    def _sentence_end(prose: str) -> int | None:
        for match in _END.finditer(prose):
            end = match.end()
            if match.group() != "\n":
                words = re.findall(r"[\w.]+$", prose[: match.start() + 1].rstrip(".!?…\"'”’)]"))
                word = words[-1].lower().rstrip(".") if words else ""
                if match.group().startswith(".") and (word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())):
                    continue
            if prose[:end].strip():
                return end
        return None

    def _phrase_end(self, prose: str) -> int | None:
        ends: list[int] = []
        if self._first_phrase_min > 0:
            for match in _CLAUSE.finditer(prose):
                if len(prose[: match.start()].strip()) >= self._first_phrase_min:
                    ends.append(match.end())
                    break
        started = self._started_at
        if self._first_phrase_words > 0 and started is not None:
            words = list(_WORD.finditer(prose))
            waited = self._clock() - started >= self._first_phrase_wait_s
            if len(words) >= self._first_phrase_words and waited:
                ends.append(words[-1].end())
        return min(ends, default=None)

    def _emit(self, out: list[str], piece: str) -> None:
        spoken = speakable(piece)
        if re.search(r"\w", spoken):
            out.append(spoken)
            self._emitted = True
