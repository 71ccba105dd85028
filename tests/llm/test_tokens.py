"""The context budget's token estimate stays on the generous side of the real count, so fitted context never
overflows the model's window, for English, Russian and code alike."""

from __future__ import annotations

import pytest

from bot.finetuning.tokens import encoding
from bot.llm.tokens import estimate_tokens


@pytest.mark.parametrize(
    "text",
    [
        "How many moons does Mars have? Mars has two moons, Phobos and Deimos, both small and irregular.",
        "Сколько стоит VIP на сервере? VIP стоит 300 рублей в месяц, оплата через бота.",
        "def fit_context(turns: list[Turn], budget: int) -> list[Turn]:\n    return turns[-budget:]\n",
        "",
    ],
)
def test_the_estimate_is_never_below_the_real_count(text: str) -> None:
    assert estimate_tokens(text) >= len(encoding("o200k_base").encode_ordinary(text))
