"""/model test: two models answer the held-out questions (a bounded number of calls at once, outside members' rate
limits), a judge grades each answer against the community's corrected one, and every graded question is stored."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import attrs

from bot.errors import ServiceUnavailable
from bot.llm.answering import fit_context
from bot.llm.chat import ChatModel
from bot.llm.references import References
from bot.llm.settings import LLMSettings
from bot.store.corrections import CorrectionStore
from bot.store.model_tests import ModelTest, ModelTestStore, NewModelTest, Side, TestItem, TestQuestion
from bot.testing.grading import Judge, token_f1
from bot.testing.settings import TestingSettings
from bot.training.held_out import split_approved
from bot.training.settings import TrainingSettings

_log = logging.getLogger(__name__)

Progress = Callable[[int, int], Awaitable[None]]  # (graded so far, total)


@attrs.frozen
class TestAsk:
    __test__ = False  # a product word, not a pytest class

    guild_id: int
    model: str
    against: str
    with_corrections: bool = False
    requested_by: int | None = None
    job_id: int | None = None


class ModelTester:
    def __init__(
        self,
        chat: ChatModel,
        store: ModelTestStore,
        corrections: CorrectionStore,
        references: References,
        *,
        llm: LLMSettings,
        training: TrainingSettings,
        settings: TestingSettings,
    ) -> None:
        self._chat = chat
        self._store = store
        self._corrections = corrections
        self._references = references
        self._llm = llm
        self._training = training
        self.settings = settings
        self._judge = Judge(chat, settings.judge_model, timeout_s=settings.judge_timeout_s)

    async def questions(self, guild_id: int) -> tuple[str, list[TestQuestion]]:
        """The server's test set: its uploaded one if any, else its held-out approved corrections."""
        limit = self.settings.max_questions
        uploaded = await self._store.uploaded_questions(guild_id)
        if uploaded:
            return "upload", uploaded[:limit]
        approved = await self._corrections.with_status(guild_id, "approved")
        held_out = split_approved(approved, self._training).held_out
        return "corrections", [TestQuestion(c.question_for_training, c.corrected_answer, c.id) for c in held_out][
            :limit
        ]

    async def run(
        self, ask: TestAsk, progress: Progress | None = None, *, existing: ModelTest | None = None
    ) -> ModelTest:
        """Ask, grade and store every test question; the stored test (status done, or failed if the run broke).
        A question whose answer or grading failed is kept ungraded; it never fails the run."""
        source, questions = await self.questions(ask.guild_id)
        if existing is not None:
            await self._store.restart(existing.id, len(questions))
            test_id = existing.id
        else:
            test_id = (
                await self._store.start(
                    NewModelTest(
                        guild_id=ask.guild_id,
                        model=ask.model,
                        against=ask.against,
                        with_corrections=ask.with_corrections,
                        judge_model=self._judge.model,
                        source=source,
                        total=len(questions),
                        job_id=ask.job_id,
                        requested_by=ask.requested_by,
                    )
                )
            ).id
        try:
            await self._ask_all(test_id, ask, questions, progress)
        except asyncio.CancelledError:
            if ask.job_id is None:  # an admin's test the bot stopped will not go on: it does not stay running
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._store.finish(test_id, "failed", "the bot stopped during the test"))
            raise  # a job's test stays `running`: the job's watcher runs it again after a restart
        except Exception as exc:
            await self._store.finish(test_id, "failed", type(exc).__name__)
            raise
        await self._store.finish(test_id, "done")
        test = await self._store.get(test_id)
        assert test is not None
        return test

    async def _ask_all(
        self, test_id: int, ask: TestAsk, questions: list[TestQuestion], progress: Progress | None
    ) -> None:
        calls = asyncio.Semaphore(self.settings.concurrency)
        done = 0

        async def one(position: int, question: TestQuestion) -> None:
            nonlocal done
            references = ""
            if ask.with_corrections:
                # Never the question's own correction: the test measures what the other corrections fix.
                exclude = [question.correction_id] if question.correction_id is not None else []
                block = await self._references.block(
                    ask.guild_id, question.question, user_id=None, exclude=exclude, force=True
                )
                references = block.text
            sides = await asyncio.gather(
                self._side(calls, ask.model, question, references), self._side(calls, ask.against, question, references)
            )
            await self._store.add_item(test_id, TestItem(position, question, *sides))
            done += 1
            if progress is not None:
                try:
                    await progress(done, len(questions))
                except Exception as exc:  # showing progress is a courtesy; the test goes on
                    _log.warning("could not show the progress of model test #%d: %s", test_id, exc)

        await asyncio.gather(*(one(i, q) for i, q in enumerate(questions)))

    async def _side(self, calls: asyncio.Semaphore, model: str, question: TestQuestion, references: str) -> Side:
        messages = fit_context(
            self._llm.system_prompt,
            [],
            question.question,
            self._llm.context_token_budget + self._llm.references_token_budget,
            references=references,
        )
        async with calls:
            try:
                answer = await self._chat.complete(model, messages, timeout_s=self.settings.answer_timeout_s)
            except ServiceUnavailable:
                return Side()
        similarity = token_f1(answer, question.expected)
        async with calls:
            grade = await self._judge.grade(question.question, question.expected, answer)
        if grade is None:
            return Side(answer, similarity=similarity)
        return Side(answer, grade.score, grade.verdict, grade.reason, similarity)
