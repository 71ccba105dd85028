"""Every custom-id prefix used by buttons and modals; the metadata after ':' carries their state."""

from __future__ import annotations

from bot.errors import InvalidInput
from bot.i18n import _

CORRECT_BUTTON = "correct"  # metadata: answer id
CORRECTION_MODAL = "correction"  # metadata: answer id
VOTE_BUTTON = "vote"  # metadata: up|down.answer id
ASK_ABOUT_MODAL = "ask-about"  # metadata: message id (in the channel the form was opened in)
REVIEW_BUTTON = "review"  # metadata: action.correction id
REVIEW_EDIT_MODAL = "review-edit"  # metadata: correction id
CORRECTIONS_PAGE = "corrections-page"  # metadata: offset.status.author
TRAIN_CONFIRM = "train"  # metadata: action.pending id
JOB_CANCEL = "job-cancel"  # metadata: action.job id
ACTIVATE_MODEL = "activate"  # metadata: job id
JOBS_PAGE = "jobs-page"  # metadata: offset
ACTIVATE_ANYWAY = "activate-anyway"  # metadata: job id (its model scored worse than the active one)
TEST_ITEMS = "test-items"  # metadata: test id (opens the per-question view)
TEST_PAGE = "test-page"  # metadata: offset.test id


def custom_id(prefix: str, *parts: object) -> str:
    """`prefix:part.part…` — at most 100 characters, as Discord allows."""
    value = prefix + (":" + ".".join(str(p) for p in parts) if parts else "")
    if len(value) > 100:
        raise ValueError(f"custom id too long: {value!r}")
    return value


def ids(metadata: str, count: int) -> list[int]:
    """The `count` numbers in a custom id's metadata. Custom ids come back from clients, so a malformed one (forged,
    or from an older version of the bot) is a clear refusal, never a crash."""
    parts = metadata.split(".")
    if len(parts) != count or not all(p.isdigit() and len(p) <= 20 for p in parts):
        raise InvalidInput(_("This button or form is out of date. Run the command again."))
    return [int(p) for p in parts]
