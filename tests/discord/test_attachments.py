"""Attachments are refused before download when too big or of a kind the bot does not read, with a message that
names the file safely and says the limit in units a member reads."""

from __future__ import annotations

import hikari
import pytest

from bot.discord.attachments import check_attachment, human_size, shown_name
from bot.errors import InvalidInput

MB = 1024 * 1024


def attachment(filename: str, size: int, media_type: str | None = None) -> hikari.Attachment:
    return hikari.Attachment(
        id=hikari.Snowflake(1),
        url=f"https://cdn.example/{filename}",
        filename=filename,
        title=None,
        description=None,
        media_type=media_type,
        size=size,
        proxy_url=f"https://media.example/{filename}",
        height=None,
        width=None,
        is_ephemeral=False,
        duration=None,
        waveform=None,
    )


def check(file: hikari.Attachment) -> None:
    check_attachment(file, max_bytes=2 * MB, extensions={"md", "txt"}, media_types={"text/plain"}, what="a text file")


def test_sizes_read_in_bytes_kb_mb_and_gb() -> None:
    assert [human_size(n) for n in (1023, 1024, 1536 * 1024, 3 * 1024 * MB)] == [
        "1023 bytes",
        "1.0 KB",
        "1.5 MB",
        "3.0 GB",
    ]


def test_a_file_too_big_is_refused_with_its_size_and_the_limit() -> None:
    with pytest.raises(InvalidInput) as refused:
        check(attachment("handbook.md", 5 * MB))
    assert str(refused.value) == "`handbook.md` is 5.0 MB; a text file may be at most 2.0 MB."


def test_a_file_is_accepted_by_its_extension_in_any_case_or_by_its_declared_type() -> None:
    check(attachment("Handbook.MD", 100))
    check(attachment("notes", 100, "text/plain; charset=utf-8"))
    with pytest.raises(InvalidInput) as refused:
        check(attachment("photo.png", 100, "image/png"))
    assert str(refused.value) == "`photo.png` is not a text file (.md, .txt)."


def test_a_file_name_is_echoed_without_breaking_out_of_inline_code_or_the_line() -> None:
    assert shown_name("a`b\nc.md") == "a'b c.md"
    long = "x" * 70 + ".md"
    assert shown_name(long) == "x" * 59 + "…" and len(shown_name(long)) == 60
    with pytest.raises(InvalidInput, match=r"^`evil'name\.png` is not a text file"):
        check(attachment("evil`name.png", 100))
