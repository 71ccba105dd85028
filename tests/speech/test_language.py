"""Which voice reads an answer: the language it is written in, else the spoken question's, else none."""

from __future__ import annotations

import pytest

from bot.speech.language import detect_language, voice_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Столица Франции — Париж.", "ru"),
        ("Столиця Франції — Париж, і це відомо всім.", "uk"),
        ("フランスの首都はパリです。", "ja"),  # kana beside CJK ideographs is Japanese, not Chinese
        ("法国的首都是巴黎。", "zh"),
        ("프랑스의 수도는 파리입니다.", "ko"),
        ("Η πρωτεύουσα της Γαλλίας είναι το Παρίσι.", "el"),
        ("La capitale de la France est Paris, je pense que c'est ça.", "fr"),
        ("Die Hauptstadt von Frankreich ist Paris und nicht Lyon.", "de"),
        ("La capital de Francia es París, y está en el norte.", "es"),
        ("The capital of France is Paris, and that is where the Louvre is.", "en"),
        ("Москва is the capital of Russia and it is big.", "en"),  # mostly Latin letters: read by its words
    ],
)
def test_the_language_an_answer_is_written_in(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "42 + 7 = 49", "Paris", "OK ok", "Hello Bonjour"])
def test_too_little_to_tell_is_no_guess(text: str) -> None:
    assert detect_language(text) is None


def test_without_a_sign_in_the_text_the_question_s_language_decides() -> None:
    assert voice_language("Paris", "pt-BR") == "pt"
    assert voice_language("Paris", None) is None
    assert voice_language("Столица Франции — Париж.", "en") == "ru"  # what it is written in wins
