"""A bot in many servers holds the vectors of a few at a time, and reads a server's again only when they changed."""

from __future__ import annotations

from bot.store.held_vectors import HeldVectors


def test_at_most_the_limit_of_servers_is_held_the_least_recently_asked_going_first() -> None:
    held = HeldVectors[str](limit=2)
    held.put((1, "m"), (1, None), "one")
    held.put((2, "m"), (1, None), "two")
    assert held.get((1, "m"), (1, None)) == "one"  # server 1 asked again: server 2 is now the least recent
    held.put((3, "m"), (1, None), "three")
    assert held.get((2, "m"), (1, None)) is None
    assert (held.get((1, "m"), (1, None)), held.get((3, "m"), (1, None))) == ("one", "three")


def test_vectors_stored_since_are_not_served_from_memory() -> None:
    held = HeldVectors[str]()
    held.put((1, "m"), (10, "t1"), "before")
    assert held.get((1, "m"), (11, "t2")) is None  # one more embedding stored: read them again
    assert held.get((1, "other-model"), (10, "t1")) is None
    assert held.get((1, "m"), (10, "t1")) == "before"
