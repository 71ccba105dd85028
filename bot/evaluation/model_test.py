"""/model test: two models answer the held-out questions (a bounded number of calls at once, outside members' rate
limits), a judge grades each answer against the community's corrected one, and every graded question is stored.

An admin's test has a cost ceiling: one at a time per server, at most `max_running` at once in this process, and its
most possible calls reserved against the server's budget before any is made (refused when they do not fit), the calls
it made counted once it ends. The budget is kept with the tests in the database, so every process sharing it agrees.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs

from bot.errors import ServiceUnavailable
from bot.evaluation.grading import RUBRIC, Judge, token_f1
from bot.evaluation.settings import EvaluationSettings
from bot.finetuning.held_out import split_approved
from bot.finetuning.settings import TrainingSettings
from bot.i18n import _
from bot.llm.answering import fit_context
from bot.llm.chat import ChatModel
from bot.llm.references import References
from bot.llm.settings import LLMSettings
from bot.llm.tokens import estimate_tokens
from bot.llm.usage import Estimate, Spender, TokenUsage, UsageLedger
from bot.store.corrections import CorrectionStore
from bot.store.model_tests import BudgetUse, EvalItem, EvalQuestion, ModelTest, ModelTestStore, NewModelTest, Side

_log = logging.getLogger(__name__)

Progress = Callable[[int, int], Awaitable[None]]  # (graded so far, total)
# Each question: both models answer, and the judge grades both answers.
CALLS_PER_QUESTION = 4


@attrs.frozen
class EvalRequest:
    guild_id: int
    model: str
    against: str
    with_corrections: bool = False
    requested_by: int | None = None
    job_id: int | None = None


@attrs.frozen
class StartedTest:
    """An admin's test, recorded as running with its calls reserved; `run_started` runs it."""

    ask: EvalRequest
    test: ModelTest
    questions: list[EvalQuestion]
    budget: int  # the server's budget of calls per window
    used_before: int  # what the server's tests counted in the window before this one
    window_h: float
    estimate: Estimate | None = None  # its most tokens (and cost), against the server's monthly budget


RefusalReason = Literal["running", "busy", "budget"]


@attrs.frozen
class EvalRefusal:
    """Why an admin's test was not started: another runs in the server (`running`), this process runs its most
    (`busy`, `running_here` of them), or its `needed` calls do not fit in the `budget` (`used` in the window)."""

    reason: RefusalReason
    running: ModelTest | None = None
    running_here: int = 0
    needed: int = 0
    budget: int = 0
    used: int = 0
    window_h: float = 0.0
    frees_at: dt.datetime | None = None  # when the calls fit again (None: never, or unknown)


class _CallCount:
    """Model calls a run has made (counted as each is sent)."""

    def __init__(self) -> None:
        self.made = 0


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
        settings: EvaluationSettings,
        ledger: UsageLedger | None = None,
    ) -> None:
        self._ledger = ledger
        self._chat = chat
        self._store = store
        self._corrections = corrections
        self._references = references
        self._llm = llm
        self._training = training
        self.settings = settings
        self._judge = Judge(chat, settings.judge_model, timeout_s=settings.judge_timeout_s)
        # Admins' tests this process runs or is starting (the process-wide cap).
        self._admin_runs: set[int] = set()
        self._starting = 0

    async def questions(self, guild_id: int) -> tuple[str, list[EvalQuestion]]:
        """The server's test set: its uploaded one if any, else its held-out approved corrections."""
        limit = self.settings.max_questions
        uploaded = await self._store.uploaded_questions(guild_id)
        if uploaded:
            return "upload", uploaded[:limit]
        approved = await self._corrections.with_status(guild_id, "approved")
        held_out = split_approved(approved, self._training).held_out
        return "corrections", [EvalQuestion(c.question_for_training, c.corrected_answer, c.id) for c in held_out][
            :limit
        ]

    def _window(self) -> dt.timedelta:
        return dt.timedelta(hours=self.settings.budget_window_h)

    async def budget_use(self, guild_id: int) -> BudgetUse:
        return await self._store.budget_use(guild_id, self._window())

    async def start(self, ask: EvalRequest) -> StartedTest | EvalRefusal:
        """Record an admin's test as running with its most possible calls reserved against the server's budget, or
        say why it may not start now. Nothing is asked of any model here."""
        settings = self.settings
        if len(self._admin_runs) + self._starting >= settings.max_running:
            return EvalRefusal("busy", running_here=len(self._admin_runs) + self._starting)
        self._starting += 1  # held across the awaits below, so two starts at once cannot both take the last place
        try:
            if self._ledger is not None:  # a spent monthly budget starts nothing that costs money
                await self._ledger.check(ask.guild_id, None)
            source, questions = await self.questions(ask.guild_id)
            needed = len(questions) * CALLS_PER_QUESTION
            new = self._new_test(ask, source, len(questions))
            reservation = await self._store.reserve(
                new,
                calls=needed,
                budget=settings.budget_calls,
                window=self._window(),
                # A minute past its own time limit (counted from a little after this): its process is gone.
                stale_after=dt.timedelta(seconds=settings.max_run_s + 60),
            )
        finally:
            self._starting -= 1
        if reservation.running is not None:
            return EvalRefusal("running", running=reservation.running)
        use = reservation.budget
        assert use is not None
        if reservation.test is None:
            return EvalRefusal(
                "budget",
                needed=needed,
                budget=settings.budget_calls,
                used=use.used,
                window_h=settings.budget_window_h,
                frees_at=use.frees_enough_at(needed, settings.budget_calls),
            )
        self._admin_runs.add(reservation.test.id)
        estimate = None
        if self._ledger is not None:
            try:
                estimate = await self._ledger.estimate(ask.guild_id, self.most_tokens(ask, questions))
            except BaseException:
                await asyncio.shield(self.abandon(StartedTest(ask, reservation.test, questions, 0, 0, 0.0)))
                raise
        return StartedTest(
            ask, reservation.test, questions, settings.budget_calls, use.used, settings.budget_window_h, estimate
        )

    def most_tokens(self, ask: EvalRequest, questions: list[EvalQuestion]) -> list[tuple[str, TokenUsage]]:
        """The calls a test makes, each with the most tokens it may use (by the bot's own count, which the provider's
        differs from a little): both models' answers, up to `max_answer_tokens` each, and their grading."""
        most_answer = self._llm.max_answer_tokens
        references = self._llm.references_token_budget if ask.with_corrections else 0
        calls: list[tuple[str, TokenUsage]] = []
        for question in questions:
            asked = estimate_tokens(self._llm.system_prompt) + estimate_tokens(question.question) + references
            graded = estimate_tokens(RUBRIC) + estimate_tokens(question.question + question.expected) + most_answer
            for model in (ask.model, ask.against):
                calls.append((model, TokenUsage(asked, most_answer)))
                calls.append((self._judge.model, TokenUsage(graded, most_answer)))
        return calls

    async def run_started(self, started: StartedTest, progress: Progress | None = None) -> ModelTest:
        """Run an admin's test begun by `start` (stopped after `max_run_s`); its reservation becomes the calls made."""
        try:
            return await self._run(started.test.id, started.ask, started.questions, progress)
        finally:
            self._admin_runs.discard(started.test.id)

    async def abandon(self, started: StartedTest) -> None:
        """A started test that never ran (its message could not be shown): it made no call and no longer runs."""
        self._admin_runs.discard(started.test.id)
        await self._store.finish(started.test.id, "failed", "the test could not be shown", calls=0)

    async def run(
        self, ask: EvalRequest, progress: Progress | None = None, *, existing: ModelTest | None = None
    ) -> ModelTest:
        """Ask, grade and store every test question; the stored test (status done, or failed if the run broke).
        A question whose answer or grading failed is kept ungraded; it never fails the run."""
        source, questions = await self.questions(ask.guild_id)
        if questions and self._ledger is not None:  # a finished job's test spends from its server's budget too
            await self._ledger.check(ask.guild_id, None)
        if existing is not None:
            await self._store.restart(existing.id, len(questions))
            test_id = existing.id
        else:
            test_id = (await self._store.start(self._new_test(ask, source, len(questions)))).id
        return await self._run(test_id, ask, questions, progress)

    def _new_test(self, ask: EvalRequest, source: str, total: int) -> NewModelTest:
        """The record of a test about to run (an admin's, or a finished job's with its job id)."""
        return NewModelTest(
            guild_id=ask.guild_id,
            model=ask.model,
            against=ask.against,
            with_corrections=ask.with_corrections,
            judge_model=self._judge.model,
            source=source,
            total=total,
            job_id=ask.job_id,
            requested_by=ask.requested_by,
        )

    async def _run(
        self, test_id: int, ask: EvalRequest, questions: list[EvalQuestion], progress: Progress | None
    ) -> ModelTest:
        count = _CallCount()
        admins = ask.job_id is None  # a job's test has its own time limit (job_test_timeout_s, in JobTests)
        try:
            async with asyncio.timeout(self.settings.max_run_s if admins else None):
                await self._ask_all(test_id, ask, questions, progress, count)
        except asyncio.CancelledError:
            if admins:  # an admin's test the bot stopped will not go on: it does not stay running
                with contextlib.suppress(Exception):
                    stopped = self._store.finish(test_id, "failed", "the bot stopped during the test", calls=count.made)
                    await asyncio.shield(stopped)
            raise  # a job's test stays `running`: the job's watcher runs it again after a restart
        except TimeoutError:
            await self._store.finish(test_id, "failed", "the test took too long", calls=count.made)
            minutes = round(self.settings.max_run_s / 60)
            raise ServiceUnavailable(
                _(
                    "The test took longer than {minutes} min and was stopped, so it has no score. Try again later.",
                    minutes=minutes,
                )
            ) from None
        except Exception as exc:
            await self._store.finish(test_id, "failed", type(exc).__name__, calls=count.made)
            raise
        await self._store.finish(test_id, "done", calls=count.made)
        test = await self._store.get(test_id)
        assert test is not None
        return test

    async def _ask_all(
        self,
        test_id: int,
        ask: EvalRequest,
        questions: list[EvalQuestion],
        progress: Progress | None,
        count: _CallCount,
    ) -> None:
        calls = asyncio.Semaphore(self.settings.concurrency)
        done = 0

        async def one(position: int, question: EvalQuestion) -> None:
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
                self._side(calls, count, ask, ask.model, question=question, references=references),
                self._side(calls, count, ask, ask.against, question=question, references=references),
            )
            await self._store.add_item(test_id, EvalItem(position, question, *sides))
            done += 1
            if progress is not None:
                try:
                    await progress(done, len(questions))
                except Exception as exc:  # showing progress is a courtesy; the test goes on
                    _log.warning("could not show the progress of model test #%d: %s", test_id, exc)

        await asyncio.gather(*(one(i, q) for i, q in enumerate(questions)))

    async def _side(
        self,
        calls: asyncio.Semaphore,
        count: _CallCount,
        ask: EvalRequest,
        model: str,
        *,
        question: EvalQuestion,
        references: str,
    ) -> Side:
        messages = fit_context(
            self._llm.system_prompt,
            [],
            question.question,
            self._llm.context_token_budget + self._llm.references_token_budget,
            references=references,
        )
        async with calls:
            count.made += 1
            try:
                answer = await self._chat.complete(
                    model,
                    messages,
                    spender=Spender("test", ask.guild_id, ask.requested_by),
                    timeout_s=self.settings.answer_timeout_s,
                )
            except ServiceUnavailable:
                return Side()
        similarity = token_f1(answer, question.expected)
        async with calls:
            count.made += 1
            grade = await self._judge.grade(
                question.question, question.expected, answer, guild_id=ask.guild_id, user_id=ask.requested_by
            )
        if grade is None:
            return Side(answer, similarity=similarity)
        return Side(answer, grade.score, grade.verdict, grade.reason, similarity)
