"""Personas: a channel's persona wins over the server's, the server's applies elsewhere, and none in DMs."""

from __future__ import annotations

from bot.store.database import Database
from bot.store.personas import Persona, PersonaStore


async def test_a_channel_s_persona_wins_over_the_server_s_which_applies_everywhere_else(db: Database) -> None:
    personas = PersonaStore(db)
    await personas.set(5, None, "You are the server's helpful librarian.", by_user=1)
    await personas.set(5, 10, "You are a pirate.", by_user=1)
    assert await personas.find(5, [10]) == Persona("You are a pirate.", "channel", 10)
    assert await personas.find(5, [11]) == Persona("You are the server's helpful librarian.", "server")
    # A thread first, then the channel it is in: the thread has none, so its channel's applies.
    assert await personas.find(5, [900, 10]) == Persona("You are a pirate.", "channel", 10)
    assert await personas.find(6, [10]) is None  # another server's
    assert await personas.find(None, [10]) is None  # DMs


async def test_setting_again_replaces_and_reset_goes_back_to_the_server_s(db: Database) -> None:
    personas = PersonaStore(db)
    await personas.set(5, None, "Server voice.", by_user=1)
    await personas.set(5, 10, "First.", by_user=1)
    await personas.set(5, 10, "Second.", by_user=2)
    assert await personas.find(5, [10]) == Persona("Second.", "channel", 10)
    assert await personas.reset(5, 10)
    assert await personas.find(5, [10]) == Persona("Server voice.", "server")
    assert not await personas.reset(5, 10)  # nothing left to reset: the command says so
    assert await personas.reset(5, None)
    assert await personas.find(5, [10]) is None
