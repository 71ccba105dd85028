"""Whether a question finds the correction the community taught for it, in English and Russian, and how fast.

The set (bench/data/retrieval_set.json, written for this bench) holds approved corrections of one server and
questions by kind: exact, reworded (the same words in another sentence), inflected (other word forms), typo,
paraphrase (other words), cross_language (asked in the other language), unrelated (no correction; some share one
word with a correction). Beside each correction the database holds copies it must never give: the same correction on
another server, pending, rejected, and private to another member; any of them found counts as a leak.

1. The set on SQLite, and on PostgreSQL when TEST_DATABASE_URL (or --postgresql URL) names one; the two must give
   the same corrections for every question.
2. The set's questions again among 100,000 approved corrections of the same server on SQLite (each of them shares
   words with the set's questions), timed per question.
3. The set again with the local embedding model (`[llm] embeddings = "local"`: by default the one the bot ships,
   universal-sentence-encoder-multilingual-3; --local-model names another, "off" skips it) on SQLite, and on
   PostgreSQL when it is given, words and meaning fused.
The figures in the JSON line are with embeddings off (the lexical path alone); "with_local_model" holds the same with
the local model. Prints a table and, last, one line:
{"bench": "retrieval", "hit1_en": …, "hit1_ru": …, "hit1_by_kind": {…}, "false_pos": …, "leaks": 0, "p99_ms_100k": …}

    .venv/bin/python bench/retrieval.py [--corrections 100000] [--postgresql URL] [--local-model NAME|DIR|off]
                                        [--min-similarity 0.63]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ack_latency import percentile
from bench.model_test import store_approved
from bot.llm.local_embeddings import DEFAULT_MODEL, LocalEmbedder
from bot.llm.references import References
from bot.llm.settings import LLMSettings
from bot.llm.usage import Spender
from bot.store.correction_embeddings import EmbeddingStore
from bot.store.correction_search import CorrectionSearch
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.records import utcnow
from tests.store.conftest import approved

SET = Path(__file__).resolve().parent / "data" / "retrieval_set.json"
GUILD, OTHER_GUILD = 5, 6
ASKER, OTHER_MEMBER = 2, 3
LEXICAL = ("exact", "reworded", "inflected", "typo")
KINDS = (*LEXICAL, "paraphrase", "cross_language", "unrelated")
SHOWN = ("hit1_en", "hit1_ru", "hit1_by_kind", "false_pos", "leaks")


async def fill(db: Database, data: dict[str, Any]) -> tuple[dict[int, str], set[int]]:
    """The set's corrections (id → key) and the copies that must never be found."""
    keys: dict[int, str] = {}
    forbidden: set[int] = set()
    for item in data["corrections"]:
        q, a = item["question"], item["answer"]
        forbidden.add(await approved(db, q, f"[other server] {a}", guild=OTHER_GUILD))
        forbidden.add(await approved(db, q, f"[pending] {a}", guild=GUILD, review=None))
        forbidden.add(await approved(db, q, f"[rejected] {a}", guild=GUILD, review="rejected"))
        forbidden.add(await approved(db, q, f"[private] {a}", guild=GUILD, user=OTHER_MEMBER, private=True))
        keys[await approved(db, q, a, guild=GUILD)] = item["key"]
    return keys, forbidden


async def ask_all(
    db: Database, data: dict[str, Any], embedder: LocalEmbedder | None = None, min_similarity: float | None = None
) -> tuple[list[list[str]], dict[int, str], set[int]]:
    """Per question, what it found: the set's keys, or "LEAK" for a copy it must not see."""
    keys, forbidden = await fill(db, data)
    references = References(
        CorrectionSearch(db),
        GuildSettingsStore(db),
        LLMSettings(embeddings="local" if embedder else "off")
        if min_similarity is None
        else LLMSettings(embeddings="local", local_embeddings_min_similarity=min_similarity),
        embedder=embedder,
        embeddings=EmbeddingStore(db) if embedder else None,
    )
    found: list[list[str]] = []
    for question in data["questions"]:
        ids = [f.id for f in await references.relevant(GUILD, question["text"], user_id=ASKER)]
        found.append(["LEAK" if i in forbidden else keys.get(i, f"#{i}") for i in ids])
    return found, keys, forbidden


def score(data: dict[str, Any], found: list[list[str]]) -> dict[str, Any]:
    hits: dict[tuple[str, str], list[bool]] = defaultdict(list)
    false_pos: list[bool] = []
    for question, got in zip(data["questions"], found, strict=True):
        if question["expect"] is None:
            false_pos.append(bool(got))
        else:
            hits[question["kind"], question["lang"]].append(got[:1] == [question["expect"]])

    def share(values: list[bool]) -> float:
        return round(sum(values) / len(values), 3) if values else 0.0

    def where(kinds: tuple[str, ...], langs: tuple[str, ...]) -> list[bool]:
        return [h for (k, lang), v in hits.items() if k in kinds and lang in langs for h in v]

    return {
        "hit1_en": share(where(KINDS, ("en",))),
        "hit1_ru": share(where(KINDS, ("ru",))),
        "hit1_lexical": {lang: share(where(LEXICAL, (lang,))) for lang in ("en", "ru")},
        "hit1_by_kind": {k: share(where((k,), ("en", "ru"))) for k in KINDS if k != "unrelated"},
        "hit1_by_kind_lang": {
            f"{k}_{lang}": share(hits[k, lang]) for k in KINDS for lang in ("en", "ru") if hits[k, lang]
        },
        "false_pos": share(false_pos),
        "leaks": sum(g.count("LEAK") for g in found),
    }


def misses(data: dict[str, Any], found: list[list[str]]) -> list[str]:
    lines = []
    for question, got in zip(data["questions"], found, strict=True):
        if (question["expect"] is None and got) or (question["expect"] is not None and got[:1] != [question["expect"]]):
            lines.append(f"  {question['kind']:<14} {question['text']!r}: wanted {question['expect']}, got {got}")
    return lines


async def big_server(
    db: Database, data: dict[str, Any], count: int, keys: dict[int, str], forbidden: set[int]
) -> tuple[float, int]:
    """p99 ms per question of the set among `count` more approved corrections of its server (SQLite), and what the
    questions find there."""
    rng = random.Random(7)
    # Each noise question holds words of the set's questions, so every term asked matches thousands of them.
    words = sorted({w for item in data["corrections"] for w in item["question"].rstrip("?").split() if len(w) > 3})
    made = [f"{rng.choice('bcdfgklmnprstvz')}{rng.choice('aeiou')}{rng.choice('bcdfgklmnprstvz')}" for _ in range(400)]
    now = utcnow()
    started = time.perf_counter()
    async with db.engine.begin() as conn:
        for chunk in range(0, count, 10_000):
            rows = range(chunk + 1_000_000, min(count, chunk + 10_000) + 1_000_000)
            # Made-up words hold a digit, so that none of them is a real word, or a misspelling the set asks with.
            questions = {
                i: f"{' '.join(rng.sample(words, 2))} {rng.choice(made)}{i % 10}{rng.choice(made)}?" for i in rows
            }
            await store_approved(conn, GUILD, questions, now)
    print(f"100k: {count:,} approved corrections stored in {time.perf_counter() - started:.1f} s")
    references = References(CorrectionSearch(db), GuildSettingsStore(db), LLMSettings())
    questions = [q["text"] for q in data["questions"]]
    for question in questions[:20]:  # warm up the page cache and read the server's vocabulary
        await references.relevant(GUILD, question, user_id=ASKER)
    timings: list[float] = []
    found: list[list[str]] = []
    for _ in range(3):
        found = []
        for question in questions:
            start = time.perf_counter()
            ids = [f.id for f in await references.relevant(GUILD, question, user_id=ASKER)]
            timings.append((time.perf_counter() - start) * 1000)
            found.append(["LEAK" if i in forbidden else keys.get(i, f"#{i}") for i in ids])
    p50, p99 = percentile(timings, 50), percentile(timings, 99)
    print(f"100k: {len(timings)} questions, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    at_scale = score(data, found)
    print("100k:", json.dumps(at_scale, ensure_ascii=False))
    return p99, at_scale["leaks"]


async def embed_p99(embedder: LocalEmbedder, data: dict[str, Any]) -> float:
    """p99 ms to embed one question (apart from the search: it runs in a thread, once per question)."""
    spender = Spender("embeddings", GUILD, ASKER)
    timings: list[float] = []
    for question in data["questions"]:
        start = time.perf_counter()
        await embedder.embed([question["text"]], spender=spender)
        timings.append((time.perf_counter() - start) * 1000)
    print(f"embedding one question: p50 {percentile(timings, 50):.2f} ms, p99 {percentile(timings, 99):.2f} ms")
    return round(percentile(timings, 99), 2)


async def on_postgresql(
    url: str, data: dict[str, Any], embedder: LocalEmbedder | None = None, min_similarity: float | None = None
) -> list[list[str]]:
    os.environ["TEST_DATABASE_URL"] = url
    from tests.store.conftest import open_database  # empties the tables first, as the tests do

    db = await open_database("postgresql", Path(tempfile.gettempdir()))
    try:
        return (await ask_all(db, data, embedder, min_similarity))[0]
    finally:
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corrections", type=int, default=100_000)
    parser.add_argument("--postgresql", default=os.environ.get("TEST_DATABASE_URL"), help="a database it may empty")
    parser.add_argument(
        "--local-model",
        default=DEFAULT_MODEL,
        help='also run the set with this embedding model ([llm] local_embeddings_model), or "off"',
    )
    parser.add_argument("--min-similarity", type=float, help="[llm] local_embeddings_min_similarity (default: its own)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    data = json.loads(SET.read_text(encoding="utf-8"))
    print(f"set: {len(data['corrections'])} corrections, {len(data['questions'])} questions")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/bench.sqlite3")
        await db.open()
        try:
            found, keys, forbidden = await ask_all(db, data)
            result = score(data, found)
            print("sqlite:", json.dumps(result, ensure_ascii=False))
            for line in misses(data, found):
                print(line)
            same: bool | None = None
            if args.postgresql:
                on_pg = await on_postgresql(args.postgresql, data)
                same = on_pg == found
                print("postgresql:", json.dumps(score(data, on_pg), ensure_ascii=False), "same as sqlite:", same)
                result["leaks"] += sum(g.count("LEAK") for g in on_pg)
            p99, leaks = await big_server(db, data, args.corrections, keys, forbidden)
            result["leaks"] += leaks
        finally:
            await db.close()
        embedded: dict[str, Any] | None = None
        same_embedded: bool | None = None
        if args.local_model != "off":
            embedder = LocalEmbedder(args.local_model)
            db = Database(f"sqlite+aiosqlite:///{tmp}/embedded.sqlite3")
            await db.open()
            try:
                with_model, _, _ = await ask_all(db, data, embedder, args.min_similarity)
            finally:
                await db.close()
            embedded = score(data, with_model)
            embedded["embed_ms_p99"] = await embed_p99(embedder, data)
            result["leaks"] += embedded["leaks"]
            print(f"sqlite, embeddings {args.local_model}:", json.dumps(embedded, ensure_ascii=False))
            for line in misses(data, with_model):
                print(line)
            if args.postgresql:
                on_pg = await on_postgresql(args.postgresql, data, embedder, args.min_similarity)
                same_embedded = on_pg == with_model
                print(f"postgresql, embeddings {args.local_model}: same as sqlite:", same_embedded)
                result["leaks"] += sum(g.count("LEAK") for g in on_pg)
    print(
        json.dumps(
            {
                "bench": "retrieval",
                "hit1_en": result["hit1_en"],
                "hit1_ru": result["hit1_ru"],
                "hit1_by_kind": result["hit1_by_kind"],
                "hit1_lexical": result["hit1_lexical"],
                "false_pos": result["false_pos"],
                "leaks": result["leaks"],
                "p99_ms_100k": round(p99, 2),
                "embeddings": "off",
                "with_local_model": None
                if embedded is None
                else {
                    "model": args.local_model,
                    "min_similarity": args.min_similarity or LLMSettings().local_embeddings_min_similarity,
                    **{k: embedded[k] for k in (*SHOWN, "embed_ms_p99")},
                    "same_on_postgresql": same_embedded,
                },
                "same_on_postgresql": same,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
