"""/voice status's card fits Discord's embed limits however many people the bot hears."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bot.discord.voice_rooms import status_embed


def room_hearing(users: list[int]) -> Any:
    status = SimpleNamespace(
        connected=True,
        state="connected",
        ended_reason=None,
        channel_id=1,
        latency_ms=40.0,
        encryption_mode="aead_aes256_gcm_rtpsize",
        dave_protocol_version=1,
        privacy_code=None,
        heard_users=users,
        dave_reinitialisations=0,
        dave_rejoins=0,
    )
    talk = SimpleNamespace(speaking=[], recent_turns=[])
    return SimpleNamespace(session=SimpleNamespace(status=lambda: status), conversation=SimpleNamespace(status=talk))


def test_a_full_voice_channel_is_listed_within_an_embed_fields_1024_characters() -> None:
    # A voice channel holds up to 99 people: all their mentions (22 characters each) overflowed the field, and
    # Discord refused the whole /voice status answer.
    everyone = [1_579_004_166_729_105_409 + i for i in range(99)]
    hearing = next(f for f in status_embed(room_hearing(everyone)).fields if f.name == "Hearing")
    assert len(hearing.value) <= 1024
    assert hearing.value.startswith(f"<@{everyone[0]}>, ") and hearing.value.endswith(" and 59 more")


def test_a_few_people_are_all_listed() -> None:
    hearing = next(f for f in status_embed(room_hearing([5, 6])).fields if f.name == "Hearing")
    assert hearing.value == "<@5>, <@6>"
