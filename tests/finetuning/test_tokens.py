"""Token counts for training files, offline: the same counts in worker processes as in this one, in the order asked,
and a clear refusal for an encoding that is not packaged."""

from __future__ import annotations

import pytest

from bot.errors import ServiceUnavailable
from bot.finetuning.tokens import TokenCounter, encoding

TEXTS = ["Hello there!", "Mars has two moons, Phobos and Deimos.", "", "Сколько стоит VIP на сервере?"]


def test_counts_are_the_encoding_s_and_come_back_in_order_in_workers_too() -> None:
    expected = [len(encoding("o200k_base").encode_ordinary(text)) for text in TEXTS]
    assert expected[2] == 0 and all(count > 0 for i, count in enumerate(expected) if i != 2)
    here = TokenCounter(workers=1)
    assert here.submit(TEXTS).result() == expected
    pooled = TokenCounter(workers=2)
    try:
        batches = [pooled.submit(TEXTS[:2]), pooled.submit(TEXTS[2:])]
        assert [count for batch in batches for count in batch.result()] == expected
    finally:
        pooled.close()


def test_an_encoding_that_is_not_packaged_is_a_clear_refusal_not_a_download() -> None:
    with pytest.raises(ServiceUnavailable, match="`no_such_base` is not available offline"):
        encoding("no_such_base")
