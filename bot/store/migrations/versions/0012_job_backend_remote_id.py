"""A job's remote id is unique per training backend, not across them: two backends may number their jobs alike."""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

NEW = "uq_training_jobs_backend_remote_id"
# SQLite's unique constraint from 0001 has no name: batch mode recreates the table under this convention to drop it.
SQLITE_OLD = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("training_jobs", naming_convention=SQLITE_OLD, recreate="always") as batch:
            batch.drop_constraint("uq_training_jobs_remote_id", type_="unique")
            batch.create_unique_constraint(NEW, ["backend", "remote_id"])
        return
    op.drop_constraint("training_jobs_remote_id_key", "training_jobs", type_="unique")
    op.create_unique_constraint(NEW, "training_jobs", ["backend", "remote_id"])


def downgrade() -> None:
    # Named as upgrade() finds it again on each database (SQLite's under the convention above; PostgreSQL's default).
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_constraint(NEW, type_="unique")
        batch.create_unique_constraint(
            "uq_training_jobs_remote_id" if sqlite else "training_jobs_remote_id_key", ["remote_id"]
        )
