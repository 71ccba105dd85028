"""Answers remember whether they were private and delivered; corrections their asker and privacy (issue 11: nobody
reads what they could not see); training requests are recorded before a paid job starts, and end-of-job notices count
their attempts (issue 11: a job started at most once, never lost; a notice that cannot be posted is given up).

Existing corrections get their asker from their answer, and count as private when the answer was a DM (the only
private answers that existed before this revision: `/ask private` answers were not marked, so they read as public).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger


def upgrade() -> None:
    op.add_column("answers", sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("answers", sa.Column("delivered", sa.Boolean, nullable=False, server_default=sa.true()))
    op.add_column("corrections", sa.Column("asker_id", Id, nullable=True))
    op.add_column("corrections", sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE corrections SET asker_id = "
        "(SELECT answers.user_id FROM answers WHERE answers.id = corrections.answer_id)"
    )
    op.execute(
        "UPDATE corrections SET private = EXISTS "
        "(SELECT 1 FROM answers WHERE answers.id = corrections.answer_id AND answers.guild_id IS NULL)"
    )
    op.add_column("training_jobs", sa.Column("notice_attempts", sa.Integer, nullable=False, server_default="0"))
    op.add_column("training_jobs", sa.Column("notice_given_up_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "training_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tag", sa.String(64), nullable=False, unique=True),
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("requester_id", Id, nullable=False),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("base_model", sa.String(200), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("suffix", sa.String(64), nullable=True),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("dataset_examples", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("upload_id", sa.String(200), nullable=True),
        sa.Column("upload_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remote_id", sa.String(200), nullable=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("training_jobs.id"), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("notice", sa.String(16), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notice_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("notice_given_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_training_requests_state", "training_requests", ["state", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_training_requests_state", table_name="training_requests")
    op.drop_table("training_requests")
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("notice_given_up_at")
        batch.drop_column("notice_attempts")
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("private")
        batch.drop_column("asker_id")
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("delivered")
        batch.drop_column("private")
