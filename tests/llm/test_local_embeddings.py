"""A local Model2Vec-format embedder: a question in Russian finds the English correction with its meaning, each
correction embedded once; a model that cannot be loaded is a warning and word search goes on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from bot.llm import local_embeddings
from bot.llm.local_embeddings import DEFAULT_MODEL, LocalEmbedder
from bot.llm.references import References
from bot.llm.settings import LLMSettings
from bot.llm.usage import Spender
from bot.store.correction_embeddings import EmbeddingStore
from bot.store.correction_search import CorrectionSearch
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from tests.store.conftest import approved
from tests.store.test_correction_search import TOPICS


def _words_only(db: Database) -> References:
    return References(CorrectionSearch(db), GuildSettingsStore(db), LLMSettings())


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
    bikes = await approved(db, "Where do we park bikes?", "In the yard behind building B.")
    await approved(db, "What is the wifi password?", "hunter2", user=3, private=True)
    for q, a in TOPICS:
        await approved(db, q, a)
    question = "Где можно оставить велосипед?"
    assert await _words_only(db).relevant(5, question, user_id=2) == []  # no word in common
    assert [f.id for f in await refs.relevant(5, question, user_id=2)] == [bikes]
    assert await refs.relevant(5, "пароль от вайфая", user_id=4) == []  # someone else's private correction
    assert await refs.relevant(5, "Кто написал картину Мона Лиза?", user_id=2) == []  # unrelated
    assert embedder.texts == 10 + 3  # each correction embedded once, then only the questions
    assert await refs.relevant(6, question, user_id=2) == []  # another server's


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
    mars = await approved(db, *TOPICS[0])
    assert [f.id for f in await refs.relevant(5, "how many moons has mars", user_id=2)] == [mars]
    assert "could not be loaded" in caplog.text  # a warning, not an error: answers go on


async def test_a_server_with_no_approved_correction_embeds_no_question(db: Database, tmp_path: Path) -> None:
    embedder = _Counting(str(_static_model(tmp_path / "model")))
    refs = References(
        CorrectionSearch(db),
        GuildSettingsStore(db),
        LLMSettings(embeddings="local"),
        embedder=embedder,
        embeddings=EmbeddingStore(db),
    )
    await approved(db, "Where do we park bikes?", "In the yard behind building B.", guild=6)
    assert await refs.relevant(5, "Где можно оставить велосипед?", user_id=2) == []
    assert embedder.texts == 0  # the model is not even loaded
    bikes = await approved(db, "Where do we park bikes?", "In the yard behind building B.")
    assert [f.id for f in await refs.relevant(5, "Где можно оставить велосипед?", user_id=2)] == [bikes]
    assert embedder.texts == 2


async def test_the_model_shipped_with_the_bot_finds_a_correction_asked_in_the_other_language(db: Database) -> None:
    # The default local model's weights ship in a package installed with the bot: nothing is downloaded.
    refs = References(
        CorrectionSearch(db),
        GuildSettingsStore(db),
        LLMSettings(embeddings="local"),
        embedder=LocalEmbedder(DEFAULT_MODEL),
        embeddings=EmbeddingStore(db),
    )
    ids = [await approved(db, q, a) for q, a in TOPICS]
    bike = await approved(db, "Где можно поставить велосипед?", "Во дворе за корпусом Б.")
    wifi = await approved(db, "Как сменить пароль от вайфая?", "В настройках роутера.", user=3, private=True)
    for question, found in [
        ("Сколько спутников у Марса?", ids[0]),
        ("Кто автор романа Моби Дик?", ids[2]),
        ("Какая столица Австралии?", ids[5]),
        ("Where can I leave my bike?", bike),
    ]:
        assert await _words_only(db).relevant(5, question, user_id=2) == [], question  # no word in common
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
    mars = await approved(db, *TOPICS[0])
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
