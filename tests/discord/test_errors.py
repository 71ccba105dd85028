"""The one error path's text: a user error is shown as itself, cut to what Discord accepts in one message."""

from __future__ import annotations

from bot.discord.errors import describe_error
from bot.errors import InvalidInput


def test_a_user_error_is_shown_as_written() -> None:
    assert describe_error(InvalidInput("The suffix may use a-z."), "/train") == "The suffix may use a-z."


def test_a_user_error_longer_than_a_discord_message_is_cut_with_its_code_block_closed() -> None:
    quoted = "\n".join(f"line {i}: not JSON" for i in range(300))
    shown = describe_error(InvalidInput(f"The training data has problems:\n```\n{quoted}\n```"), "/train")
    assert len(shown) <= 2000 and shown.startswith("The training data has problems:\n```\nline 0: not JSON")
    assert shown.endswith("```…") and shown.count("```") == 2
