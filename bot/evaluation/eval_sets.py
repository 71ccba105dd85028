"""A server's uploaded test set: a file in the training formats (JSONL or CSV), checked the same way as training
data, whose questions and answers replace the held-out corrections as what /model test asks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Any, Literal

from bot.errors import InvalidInput
from bot.evaluation.settings import EvaluationSettings
from bot.finetuning.awaiting_confirm import PreparedDatasets
from bot.finetuning.settings import TrainingSettings
from bot.finetuning.tokens import TokenCounter
from bot.finetuning.training_files import DatasetRules, csv_records, jsonl_records, validate_path
from bot.i18n import _
from bot.store.model_tests import EvalQuestion, ModelTestStore


def _last(messages: list[dict[str, Any]], role: str) -> str:
    return next(str(m["content"]) for m in reversed(messages) if m["role"] == role)


def eval_question(line: dict[str, Any]) -> EvalQuestion:
    """A checked training line as a test question: its last question and the answer wanted for it."""
    if "messages" in line:
        messages: list[dict[str, Any]] = line["messages"]
        last_answer = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        return EvalQuestion(_last(messages[:last_answer], "user"), str(messages[last_answer]["content"]))
    return EvalQuestion(_last(line["input"]["messages"], "user"), str(line["preferred_output"][0]["content"]))


def read_test_set(
    source: Path, fmt: Literal["jsonl", "csv"], out: Path, rules: DatasetRules, counter: TokenCounter
) -> list[EvalQuestion]:
    """Blocking: check the file like training data, then read its questions (run it in a thread)."""
    report = validate_path(source, fmt, rules, out, counter)
    if not report.ok:
        raise InvalidInput(
            _("The test file has problems:\n```\n{problems}\n```", problems=report.error_summary()[:1800])
        )
    questions: list[EvalQuestion] = []
    with open(source, "rb") as stream:  # read again, checked, for the file's own line numbers
        for line, example, _raw in csv_records(stream) if fmt == "csv" else jsonl_records(stream):
            try:
                questions.append(eval_question(example))
            except (StopIteration, ValueError):
                raise InvalidInput(_("Test line {line} has no question before its answer.", line=line)) from None
    return questions


class EvalSets:
    def __init__(
        self,
        store: ModelTestStore,
        prepared: PreparedDatasets,
        counter: TokenCounter,
        training: TrainingSettings,
        testing: EvaluationSettings,
    ) -> None:
        self._store = store
        self._prepared = prepared
        self._counter = counter
        self._training = training
        self._testing = testing

    @property
    def max_upload_bytes(self) -> int:
        return int(self._training.max_upload_mb * 1024 * 1024)

    async def upload(
        self, chunks: AsyncIterable[bytes], fmt: Literal["jsonl", "csv"], guild_id: int, by_user: int
    ) -> int:
        """Store the file's questions as the server's test set; returns how many."""
        source, out = self._prepared.new_path(".upload"), self._prepared.new_path()
        rules = DatasetRules(min_examples=1, max_tokens_per_example=self._training.max_tokens_per_example)
        try:
            with open(source, "wb") as f:  # noqa: ASYNC230 - small writes of streamed chunks
                async for chunk in chunks:
                    f.write(chunk)
            questions = await asyncio.to_thread(read_test_set, source, fmt, out, rules, self._counter)
        finally:
            source.unlink(missing_ok=True)
            out.unlink(missing_ok=True)
        if len(questions) > self._testing.max_questions:
            raise InvalidInput(
                _(
                    "The test file has {count} questions; a test asks at most {max_questions}.",
                    count=f"{len(questions):,}",
                    max_questions=self._testing.max_questions,
                )
            )
        await self._store.replace_questions(guild_id, questions, by_user)
        return len(questions)
