"""The dataset file a member attaches to `/train` or `/model testset`: checked before a byte is downloaded, then read
in chunks with the size limit enforced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import attrs
import hikari

from bot.discord import attachments
from bot.discord.training import DATASET_EXTENSIONS, DATASET_TYPES
from bot.i18n import N_, _

DatasetFile = Literal["training file", "test file"]
# How messages name each kind of file, translated whole: "a …" where it is refused, "the …" while it downloads.
NAMED: dict[DatasetFile, tuple[str, str]] = {
    "training file": (N_("a training file"), N_("the training file")),
    "test file": (N_("a test file"), N_("the test file")),
}


@attrs.frozen
class DatasetUpload:
    """An attached file that passed the checks; `what` names it in messages ("training file", "test file")."""

    attachment: hikari.Attachment
    max_bytes: int
    what: DatasetFile

    @property
    def format(self) -> Literal["jsonl", "csv"]:
        return "csv" if attachments.extension(self.attachment.filename) == "csv" else "jsonl"

    def chunks(self) -> AsyncIterator[bytes]:
        """The file as it downloads; refused with a short message once more than `max_bytes` arrive."""
        return attachments.chunks(self.attachment, max_bytes=self.max_bytes, what=_(NAMED[self.what][1]))


def dataset_upload(attachment: hikari.Attachment | None, *, max_bytes: int, what: DatasetFile) -> DatasetUpload | None:
    """Refuse a file that is too big or not .jsonl/.csv before anything is downloaded; None when none is attached."""
    if attachment is None:
        return None
    attachments.check_attachment(
        attachment,
        max_bytes=max_bytes,
        extensions=DATASET_EXTENSIONS,
        media_types=DATASET_TYPES,
        what=_(NAMED[what][0]),
    )
    return DatasetUpload(attachment, max_bytes, what)
