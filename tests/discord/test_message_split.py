from __future__ import annotations

import re

from bot.discord.message_split import split_message


def _fences_balanced(chunk: str) -> bool:
    return len(re.findall(r"^\s*```", chunk, re.MULTILINE)) % 2 == 0


def test_short_text_is_one_message() -> None:
    assert split_message("hello") == ["hello"]


def test_long_prose_splits_at_paragraphs_within_limit() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 60 for i in range(30)]
    text = "\n\n".join(paragraphs)
    chunks = split_message(text)
    assert len(chunks) > 1
    assert all(len(c) <= 2000 for c in chunks)
    assert "".join(chunks) == text  # nothing lost, nothing added outside code blocks
    assert all(c.rstrip().endswith(".") or c.endswith("word ") or c.endswith("\n\n") for c in chunks[:-1])


def test_code_block_cut_in_two_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"print({i})  # line of code" for i in range(150))
    text = "Here is the script:\n\n```python\n" + code + "\n```\nThat's all."
    chunks = split_message(text)
    assert len(chunks) >= 2
    assert all(len(c) <= 2000 for c in chunks)
    assert all(_fences_balanced(c) for c in chunks)
    assert chunks[1].startswith("```python\n")
    # Removing the added fences gives back the original text.
    rebuilt = chunks[0].removesuffix("\n```").removesuffix("```")
    for i, chunk in enumerate(chunks[1:], start=1):
        body = chunk.removeprefix("```python\n")
        rebuilt += body if i == len(chunks) - 1 else body.removesuffix("\n```").removesuffix("```")
    assert rebuilt.replace("\n", "") == text.replace("\n", "")


def test_unbroken_text_is_cut_hard() -> None:
    chunks = split_message("x" * 4500)
    assert [len(c) for c in chunks] == [2000, 2000, 500]
