"""Token estimates for fitting text into a model's context budget."""

from __future__ import annotations


def estimate_tokens(text: str) -> int:
    """A deliberately generous token estimate (about 3 characters a token) for fitting context into a budget."""
    return len(text) // 3 + 4
