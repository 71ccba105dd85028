"""A server's own test set for /model test: a JSONL or CSV file checked like training data, its questions and wanted
answers stored in place of the held-out corrections, with problems named by line."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pytest

from bot.errors import InvalidInput
from bot.evaluation.eval_sets import EvalSets, read_test_set
from bot.evaluation.settings import EvaluationSettings
from bot.finetuning.awaiting_confirm import PreparedDatasets
from bot.finetuning.settings import TrainingSettings
from bot.finetuning.tokens import TokenCounter
from bot.finetuning.training_files import DatasetRules
from bot.store.database import Database
from bot.store.model_tests import EvalQuestion, ModelTestStore

RULES = DatasetRules(min_examples=1, max_tokens_per_example=4096)
COUNTER = TokenCounter(workers=1)


def sft(*turns: tuple[str, str]) -> str:
    return json.dumps({"messages": [{"role": role, "content": text} for role, text in turns]})


def dpo(question: str, good: str, bad: str) -> str:
    return json.dumps(
        {
            "input": {"messages": [{"role": "user", "content": question}]},
            "preferred_output": [{"role": "assistant", "content": good}],
            "non_preferred_output": [{"role": "assistant", "content": bad}],
        }
    )


def read(tmp_path: Path, text: str, fmt: Literal["jsonl", "csv"] = "jsonl") -> list[EvalQuestion]:
    source = tmp_path / "upload"
    source.write_text(text)
    return read_test_set(source, fmt, tmp_path / "checked.jsonl", RULES, COUNTER)


def test_each_line_asks_its_last_question_and_wants_its_last_answer(tmp_path: Path) -> None:
    text = "\n".join(
        [
            sft(("user", "What is 2+2?"), ("assistant", "4")),
            "",
            sft(
                ("system", "Be brief."),
                ("user", "hi"),
                ("assistant", "hello"),
                ("user", "and 3+3?"),
                ("assistant", "6"),
            ),
        ]
    )
    assert read(tmp_path, text + "\n") == [
        EvalQuestion("What is 2+2?", "4"),
        EvalQuestion("and 3+3?", "6"),
    ]
    assert read(tmp_path, dpo("Capital of France?", "Paris", "Lyon") + "\n") == [
        EvalQuestion("Capital of France?", "Paris")
    ]


def test_a_csv_test_set_is_question_and_answer_columns(tmp_path: Path) -> None:
    text = 'question,answer\n"What is 2+2?",4\n"two\nlines",yes\n'
    assert read(tmp_path, text, "csv") == [EvalQuestion("What is 2+2?", "4"), EvalQuestion("two\nlines", "yes")]


def test_a_bad_line_is_named_by_its_line_in_a_code_block(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as problem:
        read(tmp_path, sft(("user", "q"), ("assistant", "a")) + "\n{not json\n")
    assert str(problem.value).startswith("The test file has problems:\n```\nline 2: not valid JSON")
    assert str(problem.value).endswith("\n```")
    with pytest.raises(InvalidInput, match=r"line 2: expected 2 fields, got 3"):
        read(tmp_path, "question,answer\nhi,good,bad\n", "csv")


def test_an_answer_with_no_question_before_it_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^Test line 1 has no question before its answer\.$"):
        read(tmp_path, sft(("system", "Be brief."), ("assistant", "a")) + "\n")


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def eval_sets(db: Database, tmp_path: Path, max_questions: int = 100) -> EvalSets:
    return EvalSets(
        ModelTestStore(db),
        PreparedDatasets(tmp_path / "prepared", ttl_s=600),
        COUNTER,
        TrainingSettings(),
        EvaluationSettings(max_questions=max_questions),
    )


async def test_an_uploaded_test_set_replaces_the_servers_questions_and_leaves_no_files(
    db: Database, tmp_path: Path
) -> None:
    sets, store = eval_sets(db, tmp_path), ModelTestStore(db)
    first = (sft(("user", "q1"), ("assistant", "a1")) + "\n").encode()
    assert await sets.upload(chunks(first[:10], first[10:]), "jsonl", guild_id=5, by_user=7) == 1
    assert await sets.upload(chunks(b"question,answer\nq2,a2\nq3,a3\n"), "csv", guild_id=5, by_user=7) == 2
    assert await store.uploaded_questions(5) == [EvalQuestion("q2", "a2"), EvalQuestion("q3", "a3")]
    assert await store.uploaded_questions(6) == []
    assert list((tmp_path / "prepared").iterdir()) == []
    assert sets.max_upload_bytes == 50 * 1024 * 1024


async def test_a_test_set_with_more_questions_than_a_test_asks_is_refused_and_nothing_stored(
    db: Database, tmp_path: Path
) -> None:
    sets, store = eval_sets(db, tmp_path, max_questions=2), ModelTestStore(db)
    rows = b"question,answer\n" + b"".join(b"q%d,a%d\n" % (n, n) for n in range(3))
    with pytest.raises(InvalidInput, match=r"^The test file has 3 questions; a test asks at most 2\.$"):
        await sets.upload(chunks(rows), "csv", guild_id=5, by_user=7)
    assert await store.uploaded_questions(5) == []
    assert list((tmp_path / "prepared").iterdir()) == []


def test_an_answer_with_no_question_is_named_by_its_line_in_the_file(tmp_path: Path) -> None:
    text = sft(("user", "q"), ("assistant", "a")) + "\n\n\n" + sft(("system", "Be brief."), ("assistant", "a")) + "\n"
    with pytest.raises(InvalidInput, match=r"^Test line 4 has no question before its answer\.$"):
        read(tmp_path, text)
