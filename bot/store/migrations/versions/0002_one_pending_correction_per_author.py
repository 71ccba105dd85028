"""One pending correction per (answer, author): a partial unique index (issue 11).

Existing duplicates (two pending corrections of one answer by one author, left by concurrent submits) are resolved
first: the newest (highest id) stays pending and the older ones are deleted. They were never reviewed, and the
newest is what the author submitted last, so no reviewed or exported correction is lost.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_log = logging.getLogger(__name__)
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    deleted = op.get_bind().execute(
        sa.text(
            "DELETE FROM corrections WHERE status = 'pending' AND EXISTS ("
            " SELECT 1 FROM corrections AS newer"
            " WHERE newer.answer_id = corrections.answer_id AND newer.author_id = corrections.author_id"
            " AND newer.status = 'pending' AND newer.id > corrections.id)"
        )
    )
    if deleted.rowcount:
        _log.warning("removed %d older duplicate pending corrections (the newest of each is kept)", deleted.rowcount)
    op.create_index(
        "uq_corrections_pending",
        "corrections",
        ["answer_id", "author_id"],
        unique=True,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("uq_corrections_pending", table_name="corrections")
