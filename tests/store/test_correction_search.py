"""Retrieval of approved corrections for a question (SQLite FTS5 and PostgreSQL tsvector): the right one among many,
none for an unrelated question, and never another server's or someone else's private one."""

from __future__ import annotations

from bot.llm.references import References
from bot.llm.settings import LLMSettings
from bot.store.correction_search import CorrectionSearch
from bot.store.corrections import CorrectionStore
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from tests.store.conftest import approved, stored_answer

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


def _references(db: Database) -> References:
    return References(CorrectionSearch(db), GuildSettingsStore(db), LLMSettings())


async def test_the_relevant_correction_is_found_among_many_and_none_for_an_unrelated_question(db: Database) -> None:
    ids = {q: await approved(db, q, a) for q, a in TOPICS}
    for i in range(40):  # noise that shares common words with the questions
        await approved(db, f"What is the weather like on day {i} of the trip?", f"Sunny on day {i}.")
    refs = _references(db)
    found = await refs.relevant(5, "how many moons has mars got?", user_id=2)
    assert [f.id for f in found][:1] == [ids["How many moons does Mars have?"]]
    found = await refs.relevant(5, "Which port is the staging server on", user_id=2)
    assert found[0].id == ids["Which port does the staging server listen on?"]
    assert "8443" in found[0].corrected_answer
    assert await refs.relevant(5, "What is your favourite colour?", user_id=2) == []
    assert await refs.relevant(6, "How many moons does Mars have?", user_id=2) == []  # another server's


async def test_pending_rejected_and_private_corrections_are_not_given_to_others(db: Database) -> None:
    pending = await approved(db, "What is the wifi password of the lab?", "It is hunter2.", review=None)
    refs = _references(db)
    assert await refs.relevant(5, "wifi password of the lab", user_id=1) == []  # pending: not yet
    await CorrectionStore(db).review(pending, 99, "rejected")
    assert await refs.relevant(5, "wifi password of the lab", user_id=1) == []
    private = await approved(db, "What is my locker combination?", "Locker 12: 4-8-15.", user=3, private=True)
    assert await refs.relevant(5, "my locker combination", user_id=4) == []
    assert [f.id for f in await refs.relevant(5, "my locker combination", user_id=3)] == [private]


async def test_an_edit_on_approval_is_what_is_found_and_corrections_can_be_turned_off(db: Database) -> None:
    store = CorrectionStore(db)
    answer = await stored_answer(db, "Where is the spare projector kept?", answer="In the kitchen.")
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
    target = await approved(db, "Which port does the staging server of the build farm use?", "Port 9000.")
    for i in range(30):  # newer, each sharing three of the five words asked about: more than the search keeps
        await approved(db, f"Which port does the staging server of team {i} use?", f"Port {8000 + i}.")
    found = await _references(db).relevant(5, "staging server port for the build farm", user_id=2)
    assert found[0].id == target and found[0].corrected_answer == "Port 9000."


RUSSIAN = [
    ("Какие правила сервера?", "Правила закреплены в канале #rules."),
    ("Как создать клан?", "Командой /clan create, с 10 уровня."),
    ("Сколько стоит VIP на сервере?", "VIP стоит 300 рублей в месяц."),
    ("Где найти магазин?", "Магазин у спавна, за фонтаном."),
    ("Как пожаловаться на гриферов?", "Командой /report с координатами."),
    ("Как заприватить территорию?", "Выделите её золотой лопатой и введите /rg claim."),
    ("Как телепортироваться к другу?", "Командой /tpa и ником друга."),
    ("How do I report a griefer?", "Use /report with the coordinates."),
    ("When does the server restart every day?", "Every day at 04:00 UTC."),
]


async def test_russian_and_english_questions_in_other_word_forms_or_misspelt_find_their_correction(
    db: Database,
) -> None:
    ids = {q: await approved(db, q, a) for q, a in RUSSIAN + TOPICS}
    refs = _references(db)
    asked = {
        "Расскажи о правилах сервера": "Какие правила сервера?",  # правила / правилах
        "можно ли создавать кланы?": "Как создать клан?",  # создать / создавать, клан / кланы
        "сколько стоят випы на серверах": "Сколько стоит VIP на сервере?",
        "Кому пожаловаться на грифера?": "Как пожаловаться на гриферов?",
        "Как пожаловатся на гриферов": "Как пожаловаться на гриферов?",  # misspelt
        "приват территорий": "Как заприватить территорию?",  # заприватить / приват: a prefix dropped
        "телепортация к друзьям": "Как телепортироваться к другу?",  # другу / друзьям: Snowball stems them apart
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
        await approved(db, q, a)
    refs = _references(db)
    for question in [
        "Сколько будет дважды два?",  # сколько, как, где, можно: not what a question is about
        "Как где можно?",
        "Сколько стоит пицца?",  # "стоит" in common with the VIP question, "сколько" is no topic
        "Где найти работу?",  # "найти" in common with the shop question, "где" is no topic
        "Где можно поесть в городе?",
        "Какие правила игры в шахматы?",  # shares only "правила"
        "Как создать сайт на Python?",  # shares only "создать"
        "Сколько у тебя друзей на сервере?",  # "друзей" is "другу"'s word, but nothing else is shared
        "Как выгрузить территорию?",  # shares only "территорию"
        "How do I restart my router?",  # shares only "restart"
        "Who is the best football player?",
    ]:
        assert await refs.relevant(5, question, user_id=2) == [], question
