"""Splitting long text into Discord-sized messages without breaking code blocks."""

from __future__ import annotations

import re

DISCORD_LIMIT = 2000
_FENCE = re.compile(r"^\s*(```+|~~~+)(\S*)", re.MULTILINE)


def _open_fence(text: str) -> str | None:
    """The opening line of a code block left open at the end of `text` (e.g. "```python"), or None."""
    opened: str | None = None
    for match in _FENCE.finditer(text):
        opened = None if opened is not None else match.group(1) + match.group(2)
    return opened


def _cut_point(text: str, limit: int) -> int:
    """Where to cut `text` to at most `limit` characters: a paragraph, line, sentence or word boundary if possible."""
    if len(text) <= limit:
        return len(text)
    window = text[:limit]
    for separator in ("\n\n", "\n", ". ", " "):
        at = window.rfind(separator)
        if at > limit // 2:
            return at + len(separator)
    return limit


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split into chunks of at most `limit` characters. A code block cut in two is closed at the end of one chunk and
    reopened (same language) at the start of the next, so each message renders on its own."""
    chunks: list[str] = []
    rest = text
    reopen = ""
    while True:
        body_limit = limit - len(reopen)
        # Leave room to close a fence that the cut might leave open.
        cut = _cut_point(rest, body_limit)
        chunk = reopen + rest[:cut]
        fence = _open_fence(chunk)
        if cut < len(rest) and fence is not None:
            closing = "\n```" if not chunk.endswith("\n") else "```"
            if len(chunk) + len(closing) > limit:
                cut = _cut_point(rest, body_limit - len(closing) - 1)
                chunk = reopen + rest[:cut]
                fence = _open_fence(chunk)
                closing = "\n```" if not chunk.endswith("\n") else "```"
            if fence is not None:
                chunk += closing
        chunks.append(chunk)
        rest = rest[cut:]
        if not rest:
            return chunks
        reopen = fence + "\n" if fence is not None else ""


def shorten(text: str, limit: int, ellipsis: str = "…") -> str:
    """`text` cut to `limit` characters with an ellipsis when it was longer."""
    return text if len(text) <= limit else text[: max(0, limit - len(ellipsis))] + ellipsis


def clip(text: str, limit: int, *, one_line: bool = False) -> str:
    """`text` cut to at most `limit` characters with an ellipsis; `one_line` folds whitespace first (for labels)."""
    if one_line:
        text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
