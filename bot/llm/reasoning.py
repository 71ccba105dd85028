"""Reasoning models think before they answer: `<think>…</think>` in the streamed text (tags may arrive split across
deltas) is told apart from the answer, so the thinking is never shown inline nor stored as the answer."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

OPEN = "<think>"
CLOSE = "</think>"


@attrs.frozen
class Delta:
    """A piece of streamed output: answer text, or the model's thinking."""

    text: str
    thinking: bool = False


def _partial_tag_at_end(text: str, tag: str) -> int:
    """How many characters at the end of `text` could be the start of `tag` (held back until the next delta)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Feed content deltas; get answer and thinking pieces. A tag split over deltas is held back until it is whole."""

    def __init__(self) -> None:
        self._thinking = False
        self._held = ""

    def feed(self, content: str) -> Iterator[Delta]:
        text = self._held + content
        self._held = ""
        while text:
            tag = CLOSE if self._thinking else OPEN
            at = text.find(tag)
            if at >= 0:
                if at:
                    yield Delta(text[:at], self._thinking)
                text = text[at + len(tag) :]
                self._thinking = not self._thinking
                continue
            keep = _partial_tag_at_end(text, tag)
            if keep:
                text, self._held = text[:-keep], text[-keep:]
            if text:
                yield Delta(text, self._thinking)
            break

    def end(self) -> Iterator[Delta]:
        """What was held back, once the stream is over (an unclosed `<think>` stays thinking)."""
        if self._held:
            yield Delta(self._held, self._thinking)
            self._held = ""
