"""Knowledge passages and questions go through one tokeniser: word forms and languages meet, stop words drop out,
and a question is searched by its distinct terms, at most twelve."""

from __future__ import annotations

from bot.store.passage_search import MAX_QUESTION_TERMS, passage_terms, question_terms


def test_terms_are_stemmed_and_stop_words_dropped() -> None:
    assert passage_terms("The trains are running") == passage_terms("train runs")
    assert passage_terms("Правила сервера") == passage_terms("правило серверов")
    assert passage_terms("what is the") == ""


def test_a_question_is_searched_by_its_distinct_terms_in_order_at_most_twelve() -> None:
    assert question_terms("Trains, trains and more trains: when do the trains run?") == ["train", "run"]
    many = " ".join(f"topic{i}" for i in range(20))
    assert question_terms(many) == [f"topic{i}" for i in range(MAX_QUESTION_TERMS)]
