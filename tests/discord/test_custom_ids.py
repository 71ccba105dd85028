"""Custom ids carry a button's state through Discord and back; a forged or outdated one is a clear refusal."""

from __future__ import annotations

import pytest

from bot.discord.custom_ids import VOTE_BUTTON, custom_id, ids
from bot.errors import InvalidInput


def test_a_button_finds_the_numbers_it_was_made_with() -> None:
    made = custom_id("review", 3, 12345678901234567)
    prefix, _, metadata = made.partition(":")
    assert prefix == "review"
    assert ids(metadata, 2) == [3, 12345678901234567]
    assert custom_id(VOTE_BUTTON) == "vote"  # no state: no ':'


def test_a_custom_id_longer_than_discord_allows_is_refused_when_made() -> None:
    assert len(custom_id("p", "x" * 98)) == 100
    with pytest.raises(ValueError, match="custom id too long"):
        custom_id("p", "x" * 99)


@pytest.mark.parametrize("metadata", ["", "7", "7.8.9", "7.x", "-7.8", "7.8e3", "7." + "9" * 21, "7 .8"])
def test_a_forged_or_outdated_custom_id_tells_the_member_to_run_the_command_again(metadata: str) -> None:
    with pytest.raises(InvalidInput, match=r"out of date\. Run the command again"):
        ids(metadata, 2)
