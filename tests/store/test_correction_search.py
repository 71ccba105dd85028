"""Retrieval of approved corrections for a question (SQLite FTS5 and PostgreSQL tsvector): the right one among many,
none for an unrelated question, and never another server's or someone else's private one."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import openai
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from bot.llm import local_embeddings
from bot.llm.embeddings import Embedder
from bot.llm.local_embeddings import DEFAULT_MODEL, LocalEmbedder
from bot.llm.references import References
from bot.llm.settings import LLMSettings
from bot.llm.usage import Spender
from bot.store.answers import AnswerStore, NewAnswer
from bot.store.correction_embeddings import EmbeddingStore
from bot.store.correction_search import CorrectionSearch
from bot.store.corrections import CorrectionStore
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from tests.fakes.openai import FakeOpenAI

TOPICS = [
    ("How many moons does Mars have?", "Mars has two moons, Phobos and Deimos."),
    ("What is the boiling point of water at sea level?", "100 °C at sea level."),
    ("Who wrote the novel Moby Dick?", "Herman Melville wrote Moby Dick."),
    ("When does the community meetup start on Fridays?", "Fridays at 18:00 in the main hall."),
    ("Which port does the staging server listen on?", "The staging server listens on port 8443."),
    ("What is the capital city of Australia?", "Canberra is the capital of Australia."),
    ("How long is the warranty for refurbished keyboards?", "Refurbished keyboards have a 6 month warranty."),
    ("Which license covers the bot's source code?", "The bot is under the MIT license."),
]


async def _approved(
    db: Database, question: str, fixed: str, *, guild: int = 5, user: int = 1, private: bool = False
) -> int:
    answer = await AnswerStore(db).add(
        NewAnswer(
            guild_id=guild,
            channel_id=10,
            user_id=user,
            conversation_id="c",
            source="slash",
            model="m",
            question=question,
            answer="I don't know.",
            private=private,
        )
    )
    store = CorrectionStore(db)
    saved = (await store.submit(answer, user, fixed)).correction
    return (await store.review(saved.id, 99, "approved")).id


def _references(db: Database) -> References:
    return References(CorrectionSearch(db), GuildSettingsStore(db), LLMSettings())


async def test_the_relevant_correction_is_found_among_many_and_none_for_an_unrelated_question(db: Database) -> None:
    ids = {q: await _approved(db, q, a) for q, a in TOPICS}
    for i in range(40):  # noise that shares common words with the questions
        await _approved(db, f"What is the weather like on day {i} of the trip?", f"Sunny on day {i}.")
    refs = _references(db)
    found = await refs.relevant(5, "how many moons has mars got?", user_id=2)
    assert [f.id for f in found][:1] == [ids["How many moons does Mars have?"]]
    found = await refs.relevant(5, "Which port is the staging server on", user_id=2)
    assert found[0].id == ids["Which port does the staging server listen on?"]
    assert "8443" in found[0].corrected_answer
    assert await refs.relevant(5, "What is your favourite colour?", user_id=2) == []
    assert await refs.relevant(6, "How many moons does Mars have?", user_id=2) == []  # another server's


async def test_pending_rejected_and_private_corrections_are_not_given_to_others(db: Database) -> None:
    store = CorrectionStore(db)
    answers = AnswerStore(db)
    pending = await answers.add(
        NewAnswer(
            guild_id=5,
            channel_id=10,
            user_id=1,
            conversation_id="c",
            source="slash",
            model="m",
            question="What is the wifi password of the lab?",
            answer="No idea.",
        )
    )
    saved = (await store.submit(pending, 1, "It is hunter2.")).correction
    refs = _references(db)
    assert await refs.relevant(5, "wifi password of the lab", user_id=1) == []  # pending: not yet
    await store.review(saved.id, 99, "rejected")
    assert await refs.relevant(5, "wifi password of the lab", user_id=1) == []
    private = await _approved(db, "What is my locker combination?", "Locker 12: 4-8-15.", user=3, private=True)
    assert await refs.relevant(5, "my locker combination", user_id=4) == []
    assert [f.id for f in await refs.relevant(5, "my locker combination", user_id=3)] == [private]


async def test_an_edit_on_approval_is_what_is_found_and_corrections_can_be_turned_off(db: Database) -> None:
    store = CorrectionStore(db)
    answer = await AnswerStore(db).add(
        NewAnswer(
            guild_id=5,
            channel_id=10,
            user_id=1,
            conversation_id="c",
            source="slash",
            model="m",
            question="Where is the spare projector kept?",
            answer="In the kitchen.",
        )
    )
    saved = (await store.submit(answer, 1, "In room 3.")).correction
    await store.review(saved.id, 99, "approved", corrected_answer="In the cupboard of room 4.")
    refs = _references(db)
    block = await refs.block(5, "where is the spare projector?", user_id=2)
    assert block.ids == [saved.id] and "cupboard of room 4" in block.text and "room 3" not in block.text
    await GuildSettingsStore(db).set_use_corrections(5, False)
    assert (await refs.block(5, "where is the spare projector?", user_id=2)).ids == []
    has_history, _ = await GuildSettingsStore(db).previous_model(5)
    assert not has_history  # switching corrections is not a model switch that /model rollback would undo


async def test_the_correction_sharing_most_words_wins_over_many_newer_ones_sharing_some(db: Database) -> None:
    target = await _approved(db, "Which port does the staging server of the build farm use?", "Port 9000.")
    for i in range(30):  # newer, each sharing three of the five words asked about: more than the search keeps
        await _approved(db, f"Which port does the staging server of team {i} use?", f"Port {8000 + i}.")
    found = await _references(db).relevant(5, "staging server port for the build farm", user_id=2)
    assert found[0].id == target and found[0].corrected_answer == "Port 9000."


async def test_with_embeddings_a_correction_asked_in_other_words_is_found_once_embedded(
    db: Database,
) -> None:
    async with FakeOpenAI() as fake, contextlib.AsyncExitStack() as stack:
        fake.embedding_synonyms = {"bicycle": "bike", "bikes": "bike", "leave": "park", "cycle": "bike"}
        client = await stack.enter_async_context(openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url))
        settings = LLMSettings(embeddings_model="text-embedding-3-small", embeddings_min_similarity=0.5)
        refs = References(
            CorrectionSearch(db),
            GuildSettingsStore(db),
            settings,
            embedder=Embedder(client, "text-embedding-3-small"),
            embeddings=EmbeddingStore(db),
        )
        bikes = await _approved(db, "Where do we park bikes?", "In the yard behind building B.")
        await _approved(db, "What is the wifi password?", "hunter2", user=3, private=True)
        for q, a in TOPICS:
            await _approved(db, q, a)
        question = "where can I leave my bicycle"
        assert await _references(db).relevant(5, question, user_id=2) == []  # no word in common
        assert [f.id for f in await refs.relevant(5, question, user_id=2)] == [bikes]
        assert await refs.relevant(5, "wifi password", user_id=4) == []  # someone else's private correction
        assert await refs.relevant(5, "Who painted the Mona Lisa?", user_id=2) == []  # unrelated
        embedded = sum(len(r["input"]) for r in fake.embedding_requests)
        assert embedded == 10 + 3  # each correction embedded once, then only the three questions asked
        assert await refs.relevant(6, question, user_id=2) == []  # another server's


async def test_a_failing_embeddings_endpoint_leaves_full_text_search_working(db: Database) -> None:
    async with FakeOpenAI() as fake, contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
        )
        refs = References(
            CorrectionSearch(db),
            GuildSettingsStore(db),
            LLMSettings(embeddings_model="no-such-embedding-model"),
            embedder=Embedder(client, "no-such-embedding-model"),
            embeddings=EmbeddingStore(db),
        )
        mars = await _approved(db, *TOPICS[0])
        assert [f.id for f in await refs.relevant(5, "how many moons has mars", user_id=2)] == [mars]


RUSSIAN = [
    ("Какие правила сервера?", "Правила закреплены в канале #rules."),
    ("Как создать клан?", "Командой /clan create, с 10 уровня."),
    ("Сколько стоит VIP на сервере?", "VIP стоит 300 рублей в месяц."),
    ("Где найти магазин?", "Магазин у спавна, за фонтаном."),
    ("Как пожаловаться на гриферов?", "Командой /report с координатами."),
    ("How do I report a griefer?", "Use /report with the coordinates."),
    ("When does the server restart every day?", "Every day at 04:00 UTC."),
]


async def test_russian_and_english_questions_in_other_word_forms_or_misspelt_find_their_correction(
    db: Database,
) -> None:
    ids = {q: await _approved(db, q, a) for q, a in RUSSIAN + TOPICS}
    refs = _references(db)
    asked = {
        "Расскажи о правилах сервера": "Какие правила сервера?",  # правила / правилах
        "можно ли создавать кланы?": "Как создать клан?",  # создать / создавать, клан / кланы
        "сколько стоят випы на серверах": "Сколько стоит VIP на сервере?",
        "Кому пожаловаться на грифера?": "Как пожаловаться на гриферов?",
        "Как пожаловатся на гриферов": "Как пожаловаться на гриферов?",  # misspelt
        "reporting griefers": "How do I report a griefer?",
        "how to report a grefer": "How do I report a griefer?",  # misspelt
        "at what time is the daily server restart": "When does the server restart every day?",
        "Which ports does the staging server listen to?": "Which port does the staging server listen on?",
    }
    for question, meant in asked.items():
        found = await refs.relevant(5, question, user_id=2)
        assert [f.id for f in found][:1] == [ids[meant]], question


async def test_a_question_sharing_only_stop_words_or_one_word_with_a_correction_gets_none(db: Database) -> None:
    for q, a in RUSSIAN + TOPICS:
        await _approved(db, q, a)
    refs = _references(db)
    for question in [
        "Сколько будет дважды два?",  # сколько, как, где, можно: not what a question is about
        "Как где можно?",
        "Сколько стоит пицца?",  # "стоит" in common with the VIP question, "сколько" is no topic
        "Где найти работу?",  # "найти" in common with the shop question, "где" is no topic
        "Где можно поесть в городе?",
        "Какие правила игры в шахматы?",  # shares only "правила"
        "Как создать сайт на Python?",  # shares only "создать"
        "How do I restart my router?",  # shares only "restart"
        "Who is the best football player?",
    ]:
        assert await refs.relevant(5, question, user_id=2) == [], question


def _static_model(directory: Path) -> Path:
    """A tiny Model2Vec-format model: words of one meaning, in English and Russian, share one vector."""
    meanings = [
        ["bike", "bikes", "bicycle", "велосипед", "велосипеды"],
        ["park", "leave", "оставить", "поставить"],
        ["wifi", "вайфай"],
        ["password", "пароль"],
        ["moons", "moon", "луны", "спутники"],
        ["mars", "марс", "марса"],
    ]
    vocab = {"[UNK]": 0}
    rows = [np.zeros(len(meanings), dtype=np.float32)]
    for i, words in enumerate(meanings):
        for word in words:
            vocab[word] = len(vocab)
            rows.append(np.eye(len(meanings), dtype=np.float32)[i])
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    directory.mkdir()
    tokenizer.save(str(directory / "tokenizer.json"))
    data = np.stack(rows).astype("<f4").tobytes()
    header = json.dumps(
        {"embeddings": {"dtype": "F32", "shape": [len(rows), len(meanings)], "data_offsets": [0, len(data)]}}
    ).encode()
    (directory / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + data)
    (directory / "config.json").write_text('{"normalize": true}')
    return directory


class _Counting(LocalEmbedder):
    texts = 0

    async def embed(self, texts: Sequence[str], *, spender: Spender) -> np.ndarray | None:
        self.texts += len(texts)
        return await super().embed(texts, spender=spender)


async def test_with_the_local_model_a_russian_question_finds_the_english_correction_with_its_meaning(
    db: Database, tmp_path: Path
) -> None:
    embedder = _Counting(str(_static_model(tmp_path / "model")))
    refs = References(
        CorrectionSearch(db),
        GuildSettingsStore(db),
        LLMSettings(embeddings="local"),
        embedder=embedder,
        embeddings=EmbeddingStore(db),
    )
    bikes = await _approved(db, "Where do we park bikes?", "In the yard behind building B.")
    await _approved(db, "What is the wifi password?", "hunter2", user=3, private=True)
    for q, a in TOPICS:
        await _approved(db, q, a)
    question = "Где можно оставить велосипед?"
    assert await _references(db).relevant(5, question, user_id=2) == []  # no word in common
    assert [f.id for f in await refs.relevant(5, question, user_id=2)] == [bikes]
    assert await refs.relevant(5, "пароль от вайфая", user_id=4) == []  # someone else's private correction
    assert await refs.relevant(5, "Кто написал картину Мона Лиза?", user_id=2) == []  # unrelated
    assert embedder.texts == 10 + 3  # each correction embedded once, then only the questions
    assert await refs.relevant(6, question, user_id=2) == []  # another server's


async def test_a_server_with_no_approved_correction_embeds_no_question(db: Database, tmp_path: Path) -> None:
    embedder = _Counting(str(_static_model(tmp_path / "model")))
    refs = References(
        CorrectionSearch(db),
        GuildSettingsStore(db),
        LLMSettings(embeddings="local"),
        embedder=embedder,
        embeddings=EmbeddingStore(db),
    )
    await _approved(db, "Where do we park bikes?", "In the yard behind building B.", guild=6)
    assert await refs.relevant(5, "Где можно оставить велосипед?", user_id=2) == []
    assert embedder.texts == 0  # the model is not even loaded
    bikes = await _approved(db, "Where do we park bikes?", "In the yard behind building B.")
    assert [f.id for f in await refs.relevant(5, "Где можно оставить велосипед?", user_id=2)] == [bikes]
    assert embedder.texts == 2


async def test_a_local_model_that_cannot_be_loaded_leaves_word_search_working(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "empty").mkdir()
    refs = References(
        CorrectionSearch(db),
        GuildSettingsStore(db),
        LLMSettings(embeddings="local"),
        embedder=LocalEmbedder(str(tmp_path / "empty")),
        embeddings=EmbeddingStore(db),
    )
    mars = await _approved(db, *TOPICS[0])
    assert [f.id for f in await refs.relevant(5, "how many moons has mars", user_id=2)] == [mars]
    assert "could not be loaded" in caplog.text  # a warning, not an error: answers go on


async def test_the_model_shipped_with_the_bot_finds_a_correction_asked_in_the_other_language(db: Database) -> None:
    # The default local model's weights ship in a package installed with the bot: nothing is downloaded.
    refs = References(
        CorrectionSearch(db),
        GuildSettingsStore(db),
        LLMSettings(embeddings="local"),
        embedder=LocalEmbedder(DEFAULT_MODEL),
        embeddings=EmbeddingStore(db),
    )
    ids = [await _approved(db, q, a) for q, a in TOPICS]
    bike = await _approved(db, "Где можно поставить велосипед?", "Во дворе за корпусом Б.")
    wifi = await _approved(db, "Как сменить пароль от вайфая?", "В настройках роутера.", user=3, private=True)
    for question, found in [
        ("Сколько спутников у Марса?", ids[0]),
        ("Кто автор романа Моби Дик?", ids[2]),
        ("Какая столица Австралии?", ids[5]),
        ("Where can I leave my bike?", bike),
    ]:
        assert await _references(db).relevant(5, question, user_id=2) == [], question  # no word in common
        assert [f.id for f in await refs.relevant(5, question, user_id=2)] == [found], question
    assert [f.id for f in await refs.relevant(5, "How do I change the wifi password?", user_id=3)] == [wifi]
    assert await refs.relevant(5, "How do I change the wifi password?", user_id=2) == []  # someone else's private
    for unrelated in ["Кто написал картину Мона Лиза?", "Как приготовить борщ?", "What time is it in Tokyo?"]:
        assert await refs.relevant(5, unrelated, user_id=2) == [], unrelated
    assert await refs.relevant(6, "Сколько спутников у Марса?", user_id=2) == []  # another server's


async def test_a_packaged_model_whose_package_is_missing_names_it_and_leaves_word_search_working(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(local_embeddings.PACKAGED, "absent-model", ("no_such_module_here", "no-such-package"))
    refs = References(
        CorrectionSearch(db),
        GuildSettingsStore(db),
        LLMSettings(embeddings="local"),
        embedder=LocalEmbedder("absent-model"),
        embeddings=EmbeddingStore(db),
    )
    mars = await _approved(db, *TOPICS[0])
    assert [f.id for f in await refs.relevant(5, "how many moons has mars", user_id=2)] == [mars]
    assert "pip install no-such-package" in caplog.text


def test_with_no_endpoint_corrections_are_found_by_the_shipped_model_and_passages_by_their_words() -> None:
    default = LLMSettings()
    assert default.embeddings_source == "local" and default.local_embeddings_model == DEFAULT_MODEL
    assert default.min_similarity == 0.63 and not default.passage_embeddings
    endpoint = LLMSettings(embeddings_model="text-embedding-3-small")
    assert endpoint.embeddings_source == "endpoint" and endpoint.min_similarity == 0.8 and endpoint.passage_embeddings
    assert LLMSettings(embeddings="local").passage_embeddings
    assert LLMSettings(embeddings="off").embeddings_source == "off"
    assert not LLMSettings(embeddings="off").passage_embeddings
