"""Knowledge sources (issue 27): how well passages are found, and how fast a channel is indexed.

1. Retrieval over bench/knowledge_data.py (100 facts in English and Russian, each a channel message, among ~190
   messages of chatter): hit@3 is the share of the facts' questions whose fact is among the first three passages
   the bot would give the model; "unrelated cite nothing" is the share of 50 questions the corpus does not answer
   that get no passage at all. Targets: ≥ 0.9 and ≥ 0.95.
2. Indexing: 10,000 messages read from the fake Discord's channel history through hikari's REST client (pages of
   100, waiting out the fake's rate-limit buckets of 5 requests per 0.2 s) into SQLite by the bot's KnowledgeReader,
   while a ticker measures how late the event loop wakes it (max loop lag). Targets: < 60 s, ≤ 50 ms.

Prints a summary and, last, one JSON line.

    .venv/bin/python bench/knowledge.py
"""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hikari

from bench.knowledge_data import CHATTER, FACTS_EN, FACTS_RU, UNRELATED
from bot.discord.knowledge import KnowledgeReader
from bot.llm.knowledge import Knowledge, Reader, message_passages
from bot.llm.settings import LLMSettings
from bot.store.database import Database
from bot.store.knowledge import KnowledgeStore, terms_of
from bot.store.passage_search import PassageSearch, passage_terms
from tests.fakes.discord import FakeDiscord

GUILD, CHANNEL = 1, 2


class Everyone:
    """Every channel is open to everyone: retrieval alone is measured here (the rule is tested in tests/)."""

    async def can_view(self, guild_id: int, channel_id: int, user_id: int) -> bool:
        return True

    async def open_to_everyone(self, guild_id: int, channel_id: int) -> bool:
        return True

    async def parent_of(self, guild_id: int, channel_id: int) -> int | None:
        return None


async def retrieval(folder: Path) -> dict[str, Any]:
    db = Database(f"sqlite+aiosqlite:///{folder}/retrieval.sqlite3")
    await db.open()
    try:
        store = KnowledgeStore(db)
        source = await store.add_source(GUILD, "channel", label="#faq", added_by=9, channel_id=CHANNEL)
        facts = FACTS_EN + FACTS_RU
        texts = [p for p, _ in facts] + CHATTER
        passages = [p for i, t in enumerate(texts) for p in message_passages(t, message_id=i + 1, channel_id=CHANNEL)]
        await store.add_passages(source, passages, terms_of(passages))
        knowledge = Knowledge(store, PassageSearch(db), LLMSettings(), Everyone())
        reader = Reader(GUILD, CHANNEL, 7, seen_only_by_asker=False)
        hits, misses = 0, []
        for i, (_, question) in enumerate(facts):
            found = [p.message_id for p, _ in await knowledge.relevant(reader, question)][:3]
            if i + 1 in found:
                hits += 1
            else:
                misses.append(question)
        quiet, cited = 0, []
        for question in UNRELATED:
            if await knowledge.relevant(reader, question):
                cited.append(question)
            else:
                quiet += 1
        return {
            "passages": len(passages),
            "questions": len(facts),
            "hit_at_3": round(hits / len(facts), 3),
            "unrelated": len(UNRELATED),
            "unrelated_cite_nothing": round(quiet / len(UNRELATED), 3),
            "missed": misses,
            "cited_unrelated": cited,
        }
    finally:
        await db.close()


class Ticker:
    """How late the event loop runs a 5 ms timer: the longest it was kept from other work."""

    def __init__(self) -> None:
        self.max_lag_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            self.max_lag_s = max(self.max_lag_s, time.perf_counter() - start - 0.005)

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


class RestOnly:
    """What the reader uses of the bot when reading history: its REST client (no cache)."""

    def __init__(self, rest: hikari.api.RESTClient) -> None:
        self.rest = rest


def _serve_fake(count: int, conn: Connection) -> None:
    """The fake Discord in a process of its own, as Discord is remote: the bot's process does only the bot's work."""

    async def serve() -> None:
        async with FakeDiscord() as discord:
            texts = [p for p, _ in FACTS_EN + FACTS_RU] + CHATTER
            discord.seed_history(discord.other_channel_id, [f"{texts[i % len(texts)]} (#{i})" for i in range(count)])
            conn.send((discord.rest_url, discord.token, discord.guild_id, discord.other_channel_id))
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until the bench is done
            requests = sum(1 for r in discord.requests if r.path.endswith("/messages"))
            conn.send((requests, len(discord.rate_limited)))

    asyncio.run(serve())


async def indexing(folder: Path, count: int) -> dict[str, Any]:
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve_fake, args=(count, theirs), daemon=True)
    process.start()
    try:
        rest_url, token, guild_id, channel_id = await asyncio.to_thread(ours.recv)
        found = await _index(rest_url, token, guild_id, channel_id, folder)
        ours.send("done")
        requests, rate_limited = await asyncio.to_thread(ours.recv)
    finally:
        process.join(timeout=10)
    return found | {"requests": requests, "rate_limited": rate_limited}


async def _index(rest_url: str, token: str, guild_id: int, channel_id: int, folder: Path) -> dict[str, Any]:
    db = Database(f"sqlite+aiosqlite:///{folder}/indexing.sqlite3")
    await db.open()
    rest_app = hikari.RESTApp(url=rest_url)
    await rest_app.start()
    try:
        async with rest_app.acquire(token, hikari.TokenType.BOT) as rest:
            store = KnowledgeStore(db)
            reader = KnowledgeReader(RestOnly(rest), store, LLMSettings())  # type: ignore[arg-type]
            source = await store.add_source(guild_id, "channel", label="#faq", added_by=9, channel_id=channel_id)
            # As the bot does once started (bot/app.py): stemmers loaded, and what start-up made moved out of the
            # garbage collector's way, so its full collections stop walking every module and class.
            await asyncio.to_thread(passage_terms, "warm")
            gc.freeze()
            with Ticker() as ticker:
                started = time.perf_counter()
                result = await reader.sync(source)
                seconds = time.perf_counter() - started
            stored = sum(s.passages for s in await store.sources(guild_id))
    finally:
        await rest_app.close()
        await db.close()
    return {
        "messages": result.messages,
        "passages": stored,
        "seconds": round(seconds, 2),
        "max_loop_lag_ms": round(ticker.max_lag_s * 1000, 1),
    }


async def idle_lag(seconds: float) -> float:
    """The loop's max lag with nothing to do: what the machine itself adds (it is shared and often busy)."""
    with Ticker() as ticker:
        await asyncio.sleep(seconds)
    return round(ticker.max_lag_s * 1000, 1)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        found = await retrieval(Path(tmp))
        indexed = await indexing(Path(tmp), 10_000)
    indexed["idle_max_loop_lag_ms"] = await idle_lag(indexed["seconds"])
    print(f"retrieval: {found['passages']} passages, {found['questions']} questions")
    print(f"  hit@3 {found['hit_at_3']:.3f} (target ≥ 0.9); missed: {found['missed']}")
    quiet = found["unrelated_cite_nothing"]
    print(f"  unrelated cite nothing {quiet:.3f} (target ≥ 0.95); cited: {found['cited_unrelated']}")
    print(
        f"indexing: {indexed['messages']} messages → {indexed['passages']} passages in {indexed['seconds']} s "
        f"(target < 60), max loop lag {indexed['max_loop_lag_ms']} ms (target ≤ 50), "
        f"{indexed['requests']} history requests, {indexed['rate_limited']} rate-limited; the same loop idle for as "
        f"long: max lag {indexed['idle_max_loop_lag_ms']} ms"
    )
    summary = {k: v for k, v in found.items() if k not in ("missed", "cited_unrelated")}
    print(json.dumps({"bench": "knowledge", "retrieval": summary, "indexing": indexed}))


if __name__ == "__main__":
    asyncio.run(main())
