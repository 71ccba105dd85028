"""Usage and budgets (issue 26): every model call's tokens, the running totals budgets are checked against, each
server's budget, and the budget notices already sent."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_usage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("guild_id", sa.BigInteger, nullable=True),
        sa.Column("user_id", sa.BigInteger, nullable=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("cached_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_model_usage_guild_time", "model_usage", ["guild_id", "created_at"])
    op.create_index("ix_model_usage_guild_user_time", "model_usage", ["guild_id", "user_id", "created_at"])
    op.create_table(
        "usage_counters",
        sa.Column("guild_key", sa.BigInteger, primary_key=True),
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("tokens", sa.BigInteger, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
    )
    op.create_table(
        "usage_budgets",
        sa.Column("guild_id", sa.BigInteger, primary_key=True),
        sa.Column("monthly_tokens", sa.BigInteger, nullable=True),
        sa.Column("monthly_usd", sa.Float, nullable=True),
        sa.Column("member_daily_tokens", sa.BigInteger, nullable=True),
        sa.Column("notice_channel_id", sa.BigInteger, nullable=True),
        sa.Column("updated_by", sa.BigInteger, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "usage_notices",
        sa.Column("guild_id", sa.BigInteger, primary_key=True),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("level", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_notices")
    op.drop_table("usage_budgets")
    op.drop_table("usage_counters")
    op.drop_index("ix_model_usage_guild_user_time", "model_usage")
    op.drop_index("ix_model_usage_guild_time", "model_usage")
    op.drop_table("model_usage")
