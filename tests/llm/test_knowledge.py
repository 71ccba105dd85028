"""Knowledge passages (issue 27) without Discord: found by their words in English and Russian, cited, kept in step,
removed with their source, and given only to askers and readers who may read the source (the rule in
bot/llm/knowledge.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import hikari
import openai
import pytest

from bot.app import intents_for
from bot.config import Settings, advice
from bot.llm.embeddings import Embedder
from bot.llm.knowledge import Knowledge, Reader, UnreadablePdf, file_passages, message_passages, pdf_passages
from bot.llm.settings import LLMSettings
from bot.store.database import Database
from bot.store.knowledge import KnowledgeSource, KnowledgeStore, terms_of
from bot.store.passage_embeddings import PassageEmbeddingStore
from bot.store.passage_search import PassageSearch
from tests.fakes.openai import FakeOpenAI
from tests.store.conftest import BACKENDS, open_database

GUILD = 5
FAQ = 100  # open to everyone
STAFF = 200  # private: only staff may view it
GENERAL = 300  # where public answers are shown
MEMBER, STAFFER = 1, 2


@attrs.define
class Access:
    """Who may view what: STAFF only for staffers; everything else for everyone."""

    staff: set[int] = attrs.field(factory=lambda: {STAFFER})
    threads: dict[int, int] = attrs.field(factory=dict[int, int])
    private_threads: set[int] = attrs.field(factory=set[int])

    async def can_view(self, guild_id: int, channel_id: int, user_id: int) -> bool:
        if channel_id in self.private_threads:
            return False
        channel = self.threads.get(channel_id, channel_id)
        return channel != STAFF or user_id in self.staff

    async def open_to_everyone(self, guild_id: int, channel_id: int) -> bool:
        if channel_id in self.private_threads:
            return False
        return self.threads.get(channel_id, channel_id) != STAFF

    async def parent_of(self, guild_id: int, channel_id: int) -> int | None:
        return self.threads.get(channel_id)


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(request.param, tmp_path)
    yield database
    await database.close()


async def _channel(store: KnowledgeStore, channel: int, messages: dict[int, str]) -> KnowledgeSource:
    source = await store.add_source(GUILD, "channel", label=f"#c{channel}", added_by=9, channel_id=channel)
    passages = [p for m, text in messages.items() for p in message_passages(text, message_id=m, channel_id=channel)]
    await store.add_passages(source, passages, terms_of(passages))
    return source


def _knowledge(db: Database, access: Access | None = None) -> Knowledge:
    return Knowledge(KnowledgeStore(db), PassageSearch(db), LLMSettings(), access or Access())


def _public(user: int = MEMBER, channel: int = GENERAL) -> Reader:
    return Reader(GUILD, channel, user, seen_only_by_asker=False)


FAQ_MESSAGES = {
    11: "The server rules: be kind, no spam, and no advertising in any channel.",
    12: "Voice chat opens every Friday at 18:00 UTC in the Lounge.",
    13: "To get the Verified role, link your GitHub account in #verify.",
    14: "Правила сервера: запрещена реклама, спам и оскорбления участников.",
    15: "Голосовой чат открывается каждую пятницу в 18:00 по Москве.",
}


async def test_finds_the_passage_and_cites_its_message(db: Database) -> None:
    store = KnowledgeStore(db)
    await _channel(store, FAQ, FAQ_MESSAGES)
    knowledge = _knowledge(db)
    block = await knowledge.block(_public(), "How do I get the verified role?")
    assert [c.message_id for c in block.citations][:1] == [13]
    assert block.citations[0].link == f"https://discord.com/channels/{GUILD}/{FAQ}/13"
    assert "link your GitHub account" in block.text
    russian = await knowledge.block(_public(), "Когда открывается голосовой чат?")
    assert [c.message_id for c in russian.citations][:1] == [15]
    assert (await knowledge.block(_public(), "What is the boiling point of mercury?")).citations == []


async def test_file_passages_cite_their_section(db: Database) -> None:
    store = KnowledgeStore(db)
    source = await store.add_source(GUILD, "file", label="handbook.md", added_by=9, filename="handbook.md")
    text = "# Handbook\n\nIntro.\n\n## Refunds\n\nRefunds are paid within 14 days of a written request.\n"
    passages = file_passages(text)
    await store.add_passages(source, passages, terms_of(passages))
    block = await _knowledge(db).block(_public(), "How fast are refunds paid?")
    assert block.citations[0].section == "Handbook › Refunds"
    assert block.citations[0].link is None


async def test_edit_delete_and_removal_leave_nothing_stale(db: Database) -> None:
    store = KnowledgeStore(db)
    source = await _channel(store, FAQ, FAQ_MESSAGES)
    knowledge = _knowledge(db)
    edited = message_passages("Voice chat now opens every Saturday at 20:00 UTC.", message_id=12, channel_id=FAQ)
    await store.replace_message(source, 12, edited, terms_of(edited))
    block = await knowledge.block(_public(), "When does voice chat open?")
    assert "Saturday at 20:00" in block.text and "Friday" not in block.text
    await store.remove_messages(FAQ, [12])
    assert "Saturday" not in (await knowledge.block(_public(), "When does voice chat open?")).text
    assert await store.remove_source(GUILD, source.id)
    assert (await knowledge.block(_public(), "How do I get the verified role?")).citations == []
    assert await store.sources(GUILD) == []
    assert await PassageSearch(db).document_counts(GUILD, ["verifi"]) == (0, {"verifi": 0})


async def test_private_channel_passages_only_where_every_reader_may_read_them(db: Database) -> None:
    store = KnowledgeStore(db)
    await _channel(store, STAFF, {21: "The moderator escalation phone number is 555-0199."})
    knowledge = _knowledge(db, Access(threads={400: STAFF}))
    question = "What is the moderator escalation phone number?"
    # A member who cannot view the staff channel gets nothing from it, even privately.
    assert (await knowledge.block(Reader(GUILD, GENERAL, MEMBER, True), question)).citations == []
    # A staffer in a public channel: others read that answer, so nothing from it either.
    assert (await knowledge.block(_public(STAFFER), question)).citations == []
    # A staffer privately, in the staff channel itself, or in a thread of it: read only by people who may read it.
    assert (await knowledge.block(Reader(GUILD, GENERAL, STAFFER, True), question)).citations
    assert (await knowledge.block(_public(STAFFER, STAFF), question)).citations
    assert (await knowledge.block(_public(STAFFER, 400), question)).citations
    # Never in DMs.
    assert (await knowledge.block(Reader(None, 9, STAFFER, True), question)).citations == []


async def test_another_servers_sources_are_not_used(db: Database) -> None:
    store = KnowledgeStore(db)
    await _channel(store, FAQ, FAQ_MESSAGES)
    other = Reader(GUILD + 1, GENERAL, MEMBER, seen_only_by_asker=False)
    assert (await _knowledge(db).block(other, "How do I get the verified role?")).citations == []


def test_check_and_intents_say_what_channel_sources_need() -> None:
    on = Settings(llm=LLMSettings(knowledge_sources=True))
    (note,) = [n for n in advice(on) if n.startswith("llm.knowledge_sources")]
    assert not [n for n in advice(Settings()) if "knowledge" in n]
    assert "Message Content intent" in note and "Read Message History" in note
    assert intents_for(on) & hikari.Intents.MESSAGE_CONTENT
    assert not intents_for(Settings()) & hikari.Intents.MESSAGE_CONTENT


def text_pdf(*pages: str) -> bytes:
    """A small valid PDF with one line of text per page (Helvetica), with a correct cross-reference table."""
    count = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    font = 3 + 2 * count
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_pdf_pages_become_passages_and_a_damaged_pdf_is_refused() -> None:
    passages = pdf_passages(text_pdf("Welcome to the handbook.", "Refunds are paid within 14 days."))
    assert [(p.section, p.text) for p in passages] == [
        ("page 1", "Welcome to the handbook."),
        ("page 2", "Refunds are paid within 14 days."),
    ]
    with pytest.raises(UnreadablePdf):
        pdf_passages(b"%PDF-1.4\nthis is not really a pdf")


async def test_with_embeddings_a_passage_asked_in_other_words_is_found_but_not_from_a_hidden_channel(
    db: Database,
) -> None:
    async with FakeOpenAI() as fake, openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url) as client:
        fake.embedding_synonyms = {"bicycle": "bike", "bikes": "bike", "leave": "park", "parked": "park"}
        store = KnowledgeStore(db)
        await _channel(store, FAQ, FAQ_MESSAGES | {16: "Park bikes in the yard."})
        await _channel(store, STAFF, {22: "Staff park bikes in the garage."})
        settings = LLMSettings(embeddings_model="text-embedding-3-small", embeddings_min_similarity=0.3)
        model = "text-embedding-3-small"
        knowledge = Knowledge(
            store,
            PassageSearch(db),
            settings,
            Access(),
            embedder=Embedder(client, model),
            embeddings=PassageEmbeddingStore(db),
        )
        question = "where can I leave my bicycle"
        assert (await _knowledge(db).block(_public(), question)).citations == []  # no word in common
        found = await knowledge.block(_public(), question)
        assert [c.message_id for c in found.citations] == [16]  # not the staff garage: hidden from members
        assert (await knowledge.block(_public(), "Who painted the Mona Lisa?")).citations == []
        embedded = sum(len(r["input"]) for r in fake.embedding_requests)
        assert embedded == len(FAQ_MESSAGES) + 2 + 2  # each passage once, then only the two questions


async def test_a_private_threads_passages_are_used_only_inside_it(db: Database) -> None:
    store = KnowledgeStore(db)
    await _channel(store, 500, {31: "The launch party password is aquamarine."})
    knowledge = _knowledge(db, Access(threads={500: GENERAL}, private_threads={500}))
    question = "What is the launch party password?"
    assert (await knowledge.block(_public(MEMBER, 500), question)).citations  # asked inside the thread
    assert (await knowledge.block(Reader(GUILD, GENERAL, MEMBER, True), question)).citations == []
    assert (await knowledge.block(_public(MEMBER, GENERAL), question)).citations == []
