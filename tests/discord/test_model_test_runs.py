"""`/model test` and `/model testset` from the command's side: a test with nothing to ask is refused before it
starts, a test set is uploaded or removed (never both at once) with a note of what tests will ask, and forged
question-page buttons are refused."""

from __future__ import annotations

import pytest

from bot.discord.model_test_runs import items_page, remove_test_set, start_test, upload_or_remove, uploaded_set_text
from bot.errors import InvalidInput, NotFound
from bot.evaluation.model_test import EvalRequest
from bot.store.database import Database
from bot.store.model_tests import EvalQuestion, ModelTestStore


class NoQuestions:
    """A tester for a server with no test questions yet; it must not be asked to start."""

    def __init__(self) -> None:
        self.started: list[EvalRequest] = []

    async def questions(self, guild_id: int) -> tuple[str, list[EvalQuestion]]:
        return "corrections", []

    async def start(self, ask: EvalRequest) -> object:
        self.started.append(ask)
        raise AssertionError("started a test with no questions")


async def test_a_test_with_nothing_to_ask_is_refused_before_it_starts() -> None:
    tester = NoQuestions()
    with pytest.raises(
        NotFound, match=r"^There are no test questions yet: approve corrections, or upload a test set\."
    ):
        await start_test(tester, object(), EvalRequest(5, "ft:a", "gpt-4o-mini"))  # type: ignore[arg-type]
    assert tester.started == []


class Context:
    """A command's context; nothing may be said through it when the options are refused."""

    async def respond(self, *_args: object, **_kwargs: object) -> None:
        raise AssertionError("responded")


async def test_testset_wants_a_file_or_remove_but_not_both(db: Database) -> None:
    tests = ModelTestStore(db)
    attachment = object()
    for data, remove in ((None, False), (attachment, True)):
        with pytest.raises(InvalidInput, match=r"^Attach a test file, or choose `remove: True`"):
            await upload_or_remove(Context(), object(), tests, 5, data, remove=remove)  # type: ignore[arg-type]


async def test_removing_the_uploaded_set_says_how_many_questions_went(db: Database) -> None:
    tests = ModelTestStore(db)
    assert await remove_test_set(tests, 5, 7) == (
        "🧪 There was no uploaded test set: tests use the held-out approved corrections."
    )
    await tests.replace_questions(5, [EvalQuestion("q1", "a1"), EvalQuestion("q2", "a2")], 7)
    await tests.replace_questions(6, [EvalQuestion("q3", "a3")], 7)
    assert await remove_test_set(tests, 5, 7) == (
        "🧪 Removed the uploaded test set (2 questions): tests use the held-out approved corrections."
    )
    assert await tests.uploaded_questions(5) == []
    assert await tests.uploaded_questions(6) == [EvalQuestion("q3", "a3")]  # another server's set stays


def test_an_uploaded_set_says_how_many_questions_tests_will_ask_and_how_to_go_back() -> None:
    said = uploaded_set_text(12)
    assert said.startswith("🧪 This server's test set now has 12 questions") and "`/model testset remove: True`" in said


async def test_a_forged_question_page_button_is_refused(db: Database) -> None:
    tests = ModelTestStore(db)
    for metadata, opening in (("x", True), ("1.x", False), ("1", False)):
        with pytest.raises(InvalidInput, match="out of date"):
            await items_page(tests, 5, metadata, opening=opening)
    with pytest.raises(NotFound):
        await items_page(tests, 5, "999", opening=True)  # no such test in this server
