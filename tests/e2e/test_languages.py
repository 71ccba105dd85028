"""A question asked in Russian is answered in Russian and spoken with a Russian voice, by either speech engine."""

from __future__ import annotations

from pathlib import Path

from bot.speech.language import detect_language
from bot.speech.settings import SpeechSettings
from bot.speech.tts import EspeakSpeech
from tests.fakes.discord import FakeDiscord
from tests.fakes.edge_tts import FakeEdgeTTS
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI

ANSWER_RU = "Столица Франции — Париж."


async def test_a_russian_question_is_spoken_back_with_a_russian_voice(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply(ANSWER_RU)
    async with FakeEdgeTTS() as edge:
        speech = {"engine": "edge", "edge_endpoint": edge.endpoint}
        async with running_bot(discord, openai_fake, tmp_path, speech=speech):
            asked = discord.slash("ask", options={"question": "Какая столица Франции?", "speak": True})
            spoken = await asked.wait(lambda e: bool(e.files))
            assert asked.content == ANSWER_RU
            assert spoken.files[0].filename.endswith(".mp3")
            assert [r["text"] for r in edge.requests] == [ANSWER_RU]
            assert "(ru-RU, SvetlanaNeural)" in edge.requests[0]["voice"]
            # The model was asked to answer in the question's language.
            assert "language of the question" in openai_fake.chat_requests[-1]["messages"][0]["content"]


def test_voices_follow_the_language_of_the_text_for_the_common_languages() -> None:
    espeak = EspeakSpeech(SpeechSettings())
    samples = {
        "ru": ANSWER_RU,
        "uk": "Київ — столиця України, і це гарне місто.",
        "ja": "東京は日本の首都です。",
        "zh": "北京是中国的首都。",
        "es": "La capital de España es Madrid y es muy bonita.",
        "it": "La capitale è Roma e non è lontana.",
        "pt": "A capital do Brasil é Brasília, não é São Paulo.",
        "pl": "Stolicą Polski jest Warszawa, to jest duże miasto.",
        "de": "Die Hauptstadt ist Berlin und sie ist schön.",
    }
    for language, text in samples.items():
        assert detect_language(text) == language, text
        assert espeak.voice(detect_language(text)) == SpeechSettings().espeak_voices[language]
        assert language in SpeechSettings().edge_voices
    assert detect_language("OK!") is None and espeak.voice(None) == "en-us"
