"""The schema holds Discord's ids whole: every column named for a server, channel, message or member is a 64-bit
integer (Discord's snowflakes pass 2³¹, which PostgreSQL's INTEGER refuses), and every table has a primary key."""

from __future__ import annotations

import re

import sqlalchemy as sa

from bot.store.schema import metadata

# Columns that hold a Discord snowflake, by name; `claimed_by` names a bot process, not a member.
DISCORD_ID = re.compile(
    r"^(guild|channel|parent_channel|notice_channel|user|requester|author|asker|reviewer|thread|message|last_message)"
    r"_id$|_by$"
)


def discord_id_columns() -> list[sa.Column[object]]:
    return [
        c for t in metadata.sorted_tables for c in t.columns if DISCORD_ID.search(c.name) and c.name != "claimed_by"
    ]


def test_every_discord_id_column_is_a_64_bit_integer() -> None:
    columns = discord_id_columns()
    assert len(columns) > 30  # the pattern finds the ids across the schema
    narrow = [f"{c.table.name}.{c.name}" for c in columns if not isinstance(c.type, sa.BigInteger)]
    assert narrow == []


def test_every_table_has_a_primary_key() -> None:
    assert [t.name for t in metadata.sorted_tables if not t.primary_key.columns] == []
