"""/knowledge's sources in the database: each server sees its own with their passage counts; a removed source, a
deleted message or an edited one leaves nothing stale; history is read on from the newest message seen."""

from __future__ import annotations

from bot.store.database import Database
from bot.store.knowledge import KnowledgeStore, NewPassage, terms_of


def _messages(channel: int, *texts: tuple[int, str]) -> list[NewPassage]:
    return [NewPassage(text, message_id=message, channel_id=channel) for message, text in texts]


async def test_a_server_lists_its_own_sources_oldest_first_with_their_passages(db: Database) -> None:
    store = KnowledgeStore(db)
    rules = await store.add_source(5, "channel", label="#rules", added_by=1, channel_id=10, pinned_only=True)
    handbook = await store.add_source(5, "file", label="handbook.md", added_by=1, filename="handbook.md")
    theirs = await store.add_source(6, "channel", label="#general", added_by=2, channel_id=20)
    passages = [NewPassage("Refunds within 30 days.", section="Refunds"), NewPassage("Open 9 to 5.", section="Hours")]
    await store.add_passages(handbook, passages, terms_of(passages))
    listed = await store.sources(5)
    assert [(s.id, s.label, s.passages) for s in listed] == [(rules.id, "#rules", 0), (handbook.id, "handbook.md", 2)]
    assert listed[0].pinned_only and listed[0].channel_id == 10 and listed[1].filename == "handbook.md"
    assert await store.source(5, theirs.id) is None  # another server's id is no source here
    assert [s.id for s in await store.sources_reading(10)] == [rules.id]
    assert [s.id for s in await store.all_channel_sources()] == [rules.id, theirs.id]


async def test_history_is_read_on_from_the_newest_message_and_edits_and_deletions_leave_nothing_stale(
    db: Database,
) -> None:
    store = KnowledgeStore(db)
    source = await store.add_source(5, "channel", label="#faq", added_by=1, channel_id=10)
    page = _messages(10, (100, "The shop opens at nine."), (101, "Parking is behind building B."))
    await store.add_passages(source, page, terms_of(page), last_message_id=101)
    await store.add_passages(source, [], [], last_message_id=90)  # an older page read later does not go back
    (synced,) = await store.sources(5)
    assert synced.last_message_id == 101 and synced.synced_at is None
    edited = _messages(10, (100, "The shop opens at ten."))
    await store.replace_message(source, 100, edited, terms_of(edited))
    assert await store.passage_texts(source.id) == {100: "The shop opens at ten.", 101: "Parking is behind building B."}
    assert await store.remove_messages(10, [101, 999]) == 1
    assert await store.remove_messages(11, [100]) == 0  # another channel's message with the same id is not ours
    assert await store.message_ids(source.id) == {100}
    await store.mark_synced(source.id)
    (synced,) = await store.sources(5)
    assert synced.synced_at is not None


async def test_removing_a_source_removes_its_passages_and_only_from_its_own_server(db: Database) -> None:
    store = KnowledgeStore(db)
    source = await store.add_source(5, "channel", label="#faq", added_by=1, channel_id=10)
    page = _messages(10, (100, "The shop opens at nine."))
    await store.add_passages(source, page, terms_of(page))
    assert not await store.remove_source(6, source.id)
    assert await store.remove_source(5, source.id)
    assert await store.sources(5) == [] and await store.message_ids(source.id) == set()
    assert not await store.remove_source(5, source.id)
