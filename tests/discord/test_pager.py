"""The ◀ Previous / Next ▶ buttons of every paginated list, and the "11–20 of 34" footer."""

from __future__ import annotations

from typing import Any

from bot.discord.pager import footer, pager_row


def _buttons(offset: int, total: int, *state: object) -> list[tuple[str, str, bool]]:
    (row,) = pager_row("jobs-page", offset, 10, total, *state)
    built: list[dict[str, Any]] = [component for component in row.build()[0]["components"]]
    return [(b["label"], b["custom_id"], b.get("disabled", False)) for b in built]


def test_a_list_that_fits_on_one_page_has_no_buttons() -> None:
    assert pager_row("jobs-page", 0, 10, 10) == []
    assert pager_row("jobs-page", 0, 10, 0) == []


def test_the_first_page_cannot_go_back_and_next_carries_the_filters() -> None:
    assert _buttons(0, 34, "pending", 7) == [
        ("◀ Previous", "jobs-page:0.pending.7", True),
        ("Next ▶", "jobs-page:10.pending.7", False),
    ]


def test_the_last_page_cannot_go_on() -> None:
    assert _buttons(30, 34) == [("◀ Previous", "jobs-page:20", False), ("Next ▶", "jobs-page:40", True)]


def test_a_page_left_empty_by_deletions_still_offers_the_way_back() -> None:
    assert _buttons(10, 5)[0] == ("◀ Previous", "jobs-page:0", False)


def test_the_footer_counts_from_one_and_stops_at_the_total() -> None:
    assert footer(10, 10, 34) == "11–20 of 34"
    assert footer(30, 10, 34) == "31–34 of 34"
