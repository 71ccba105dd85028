"""A dataset attached to /train or /model testset is refused before download when too big or not JSONL/CSV, and cut off
with a clear message when more arrives than it said."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import attrs
import hikari
import pytest

from bot.discord.dataset_upload import dataset_upload
from bot.errors import InvalidInput
from bot.i18n import speaking
from tests.discord.test_attachments import attachment

MB = 1024 * 1024


class Attachment(hikari.Attachment):
    """A Discord attachment whose download is the given chunks (Discord's CDN is not asked)."""

    def __init__(self, filename: str, size: int, media_type: str | None = None, body: list[bytes] | None = None):
        super().__init__(**attrs.asdict(attachment(filename, size, media_type), recurse=False))
        self._body = body or []

    @contextlib.asynccontextmanager
    async def stream(  # type: ignore[override]
        self, *_args: object, **_kwargs: object
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        async def reader() -> AsyncIterator[bytes]:
            for chunk in self._body:
                yield chunk

        yield reader()


def test_no_attachment_means_no_upload() -> None:
    assert dataset_upload(None, max_bytes=MB, what="training file") is None


def test_jsonl_and_csv_files_are_taken_by_name_or_declared_type_and_read_in_their_format() -> None:
    jsonl = dataset_upload(Attachment("chat.JSONL", 100), max_bytes=MB, what="training file")
    csv = dataset_upload(Attachment("questions.csv", 100), max_bytes=MB, what="test file")
    unnamed = dataset_upload(Attachment("export", 100, "application/x-ndjson"), max_bytes=MB, what="training file")
    assert jsonl is not None and jsonl.format == "jsonl"
    assert csv is not None and csv.format == "csv"
    assert unnamed is not None and unnamed.format == "jsonl"


def test_a_file_too_big_is_refused_before_download_naming_what_it_was_for() -> None:
    with pytest.raises(InvalidInput) as refused:
        dataset_upload(Attachment("chat.jsonl", 3 * MB), max_bytes=2 * MB, what="training file")
    assert str(refused.value) == "`chat.jsonl` is 3.0 MB; a training file may be at most 2.0 MB."


def test_a_file_of_another_kind_is_refused_with_the_kinds_read_in_the_members_language() -> None:
    with pytest.raises(InvalidInput) as refused:
        dataset_upload(Attachment("slides.pdf", 100, "application/pdf"), max_bytes=MB, what="test file")
    assert str(refused.value) == "`slides.pdf` is not a test file (.csv, .jsonl)."
    with speaking("ru"), pytest.raises(InvalidInput) as in_russian:
        dataset_upload(Attachment("slides.pdf", 100, "application/pdf"), max_bytes=MB, what="training file")
    assert str(in_russian.value) == "`slides.pdf` — это не файл для обучения (.csv, .jsonl)."


async def test_the_download_comes_in_chunks_and_stops_once_more_than_the_limit_arrives() -> None:
    fine = dataset_upload(Attachment("chat.jsonl", 10, body=[b'{"a":', b"1}\n"]), max_bytes=10, what="training file")
    assert fine is not None and [c async for c in fine.chunks()] == [b'{"a":', b"1}\n"]
    # Discord said 10 bytes, but more came
    lying = dataset_upload(Attachment("q.csv", 10, body=[b"q,a\n", b"x" * 20]), max_bytes=10, what="test file")
    assert lying is not None
    received: list[bytes] = []
    with pytest.raises(InvalidInput) as refused:
        async for chunk in lying.chunks():
            received.append(chunk)
    assert received == [b"q,a\n"]
    assert str(refused.value) == "The test file is larger than 10 bytes."
