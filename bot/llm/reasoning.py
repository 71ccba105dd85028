"""Reasoning models think before they answer: `<think>…</think>` in the streamed text (tags may arrive split across
deltas) is told apart from the answer, so the thinking is never shown inline nor stored as the answer.

Some models' chat templates open `<think>` in the prompt (DeepSeek-R1, QwQ): their output is `thoughts…</think>answer`,
and nothing says it is thinking until the `</think>`. A `</think>` with no `<think>` therefore turns everything before
it, already given as answer, into thinking (`Delta.answer_was_thinking`)."""

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
    # A `</think>` came with no `<think>`: all the answer given so far was thinking too (this delta's text is thinking).
    answer_was_thinking: bool = False


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
        if "<" not in text:  # no tag, nor the start of one: most deltas, passed on as they are
            if text:
                yield Delta(text, self._thinking)
            return
        while text:
            # In the answer, `<think>` opens thinking, and a lone `</think>` closes thinking the prompt opened.
            tags = (CLOSE,) if self._thinking else (OPEN, CLOSE)
            found = [(at, tag) for tag in tags if (at := text.find(tag)) >= 0]
            if found:
                at, tag = min(found)
                if tag == CLOSE and not self._thinking:
                    yield Delta(text[:at], thinking=True, answer_was_thinking=True)
                else:
                    if at:
                        yield Delta(text[:at], self._thinking)
                    self._thinking = not self._thinking
                text = text[at + len(tag) :]
                continue
            keep = max(_partial_tag_at_end(text, tag) for tag in tags)
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


def answer_only(content: str) -> str:
    """A whole completion's answer, without its thinking (`<think>` blocks, or all before a lone `</think>`)."""
    splitter = ThinkSplitter()
    answer = ""
    for delta in (*splitter.feed(content), *splitter.end()):
        if delta.answer_was_thinking:
            answer = ""
        elif not delta.thinking:
            answer += delta.text
    return answer
