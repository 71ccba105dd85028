"""The words questions are searched and indexed by: one stem for the forms of a word, in English and Russian, no stop
words, accents and ё ignored; a misspelt word finds the server's word one edit away."""

from __future__ import annotations

import pytest

from bot.store.search_terms import (
    MAX_TERMS,
    MIN_PREFIX,
    Vocabulary,
    index_text,
    lookups,
    matches,
    spellings,
    stem_word,
    terms,
)


def test_forms_of_a_word_give_one_term_and_stop_words_none() -> None:
    assert terms("The café is where the trains are running") == terms("cafe train runs") == ["cafe", "train", "run"]
    assert terms("What is the") == [] and terms("Как где можно?") == []
    assert terms("ёлка") == terms("елка")
    assert terms("a b 42 ok") == ["42"]  # numbers count however short; other two-letter words do not
    assert index_text("Where do we park bikes?") == " ".join(terms("Where do we park bikes?"))


def test_a_question_is_searched_by_at_most_its_first_terms() -> None:
    many = " ".join(f"topic{i}" for i in range(MAX_TERMS + 5))
    assert terms(many, MAX_TERMS) == terms(many)[:MAX_TERMS]


@pytest.mark.parametrize(
    ("asked", "indexed"),
    [("правилах", "правила"), ("создавать", "создать"), ("серверов", "сервер"), ("running", "run")],
)
def test_forms_the_stemmer_leaves_apart_still_find_each_other(asked: str, indexed: str) -> None:
    assert matches(stem_word(asked), stem_word(indexed)) and matches(stem_word(indexed), stem_word(asked))


@pytest.mark.parametrize(("term", "indexed"), [("mar", "market"), ("car", "career"), ("лаг", "лагерь")])
def test_a_short_term_does_not_find_every_longer_word_it_starts(term: str, indexed: str) -> None:
    assert not matches(term, stem_word(indexed))


@pytest.mark.parametrize("term", ["car", "мар", "прав", "правил", "создава", "телепортирова", "run"])
@pytest.mark.parametrize(
    "indexed", ["car", "card", "career", "прав", "правил", "правило", "созда", "телепортац", "runner", "мара"]
)
def test_what_the_database_looks_up_is_what_matches_says(term: str, indexed: str) -> None:
    looked_up = any(indexed == key or (prefix and indexed.startswith(key)) for key, prefix in lookups(term))
    if len(term) >= MIN_PREFIX:
        assert looked_up == matches(term, indexed)
    else:  # the database finds every term a three-letter one starts; `matches` keeps the four-letter ones
        assert looked_up >= matches(term, indexed)


def test_a_misspelt_word_finds_the_server_s_word_one_edit_away() -> None:
    text = "Where is the shop? The shop opens at nine, beside the bakery."
    vocabulary = Vocabulary(spellings(text), terms(text))
    assert vocabulary.near("shpo", stem_word("shpo")) == [stem_word("shop")]  # two letters swapped
    assert vocabulary.near("bakeyr", stem_word("bakeyr")) == [stem_word("bakery")]
    assert vocabulary.near("shop", stem_word("shop")) == []  # spelt right: nothing to correct
    assert vocabulary.near("sho", "sho") == []  # too short to tell a typo from another word
    assert vocabulary.near("xylophone", stem_word("xylophone")) == []


def test_a_russian_word_finds_the_server_s_forms_of_it_with_a_prefix_and_its_other_number() -> None:
    text = "Как заприватить территорию? Как телепортироваться к другу? Где выход? Как запустить сервер?"
    vocabulary = Vocabulary(spellings(text), terms(text))
    assert vocabulary.related(stem_word("приват")) == [stem_word("заприватить")]  # a prefix the question lacks
    assert vocabulary.related(stem_word("перезапустить")) == [stem_word("запустить")]  # one the correction lacks
    assert vocabulary.related(stem_word("друзьям")) == [stem_word("другу")]  # the plural is another word
    assert vocabulary.related(stem_word("ход")) == []  # a short root means something else with each prefix
    assert vocabulary.related(stem_word("территорию")) == []  # no other form of it on this server
