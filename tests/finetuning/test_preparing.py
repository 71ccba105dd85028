"""Before /train's Confirm: what an admin asked for is checked before anything is downloaded, and the data (an upload
or the approved corrections) is checked, written out and kept waiting in its server, leaving no stray files."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import InvalidInput, NotFound
from bot.finetuning.awaiting_confirm import PreparedDatasets
from bot.finetuning.preparing import DatasetPreparer, TrainingAsk
from bot.finetuning.settings import TrainingSettings
from bot.finetuning.tokens import TokenCounter
from bot.store.corrections import Correction, CorrectionStore
from bot.store.database import Database
from tests.store.conftest import approved

SETTINGS = TrainingSettings(min_examples=2, held_out_share=0.0, held_out_min=0)
DEFAULT = "gpt-4.1-mini-2025-04-14"


def preparer(tmp_path: Path, settings: TrainingSettings = SETTINGS) -> tuple[DatasetPreparer, PreparedDatasets]:
    prepared = PreparedDatasets(tmp_path / "prepared", ttl_s=600)
    return DatasetPreparer(prepared, TokenCounter(workers=1), settings), prepared


def ask(tmp_path: Path, **given: str | None) -> TrainingAsk:
    options: dict[str, str | None] = {"base_model": None, "suffix": None, "method": None} | given
    return preparer(tmp_path)[0].ask(
        options["base_model"], options["suffix"], options["method"], guild_id=5, channel_id=10, requester_id=7
    )


def test_an_ask_without_a_model_trains_the_backends_default_and_cleans_the_suffix(tmp_path: Path) -> None:
    asked = ask(tmp_path, suffix="  Support-Bot ", method="dpo")
    assert (asked.base_model, asked.suffix, asked.method, asked.backend) == (DEFAULT, "support-bot", "dpo", "openai")
    assert ask(tmp_path, method="anything").method is None  # the data decides
    assert ask(tmp_path, suffix="   ").suffix is None


def test_a_model_the_backend_does_not_train_is_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as refused:
        ask(tmp_path, base_model="gpt-5")
    assert str(refused.value) == (
        "`gpt-5` is not a base model this bot trains. Choose one of: `gpt-4.1-mini-2025-04-14`, "
        "`gpt-4o-mini-2024-07-18`."
    )
    with pytest.raises(InvalidInput) as long:
        ask(tmp_path, base_model="x" * 500)
    assert "`" + "x" * 99 + "…`" in str(long.value) and "x" * 100 not in str(long.value)


def test_a_suffix_outside_the_allowed_characters_is_refused(tmp_path: Path) -> None:
    for bad in ("my bot", "bot!", "-bot", "b" * 41):
        with pytest.raises(InvalidInput, match=r"^The suffix may use a-z, 0-9, - and _ only, up to 40 characters\.$"):
            ask(tmp_path, suffix=bad)


def test_an_unknown_backend_is_refused_with_the_configured_ones(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidInput, match=r"^`gpu-farm` is not a training backend of this bot\. Choose one of: `openai`\.$"
    ):
        preparer(tmp_path)[0].ask(None, None, None, guild_id=5, channel_id=10, requester_id=7, backend="gpu-farm")


def sft(question: str, answer: str) -> bytes:
    turns = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return json.dumps({"messages": turns}).encode() + b"\n"


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "prepared").iterdir())


async def test_an_upload_is_checked_and_kept_for_confirm_in_its_server_only(tmp_path: Path) -> None:
    datasets, prepared = preparer(tmp_path)
    data = sft("q1", "a1") + sft("q2", "a2")
    ready = await datasets.from_upload(chunks(data[:7], data[7:]), "jsonl", ask(tmp_path, suffix="mine"))
    assert (ready.method, ready.report.examples, ready.suffix, ready.guild_id) == ("sft", 2, "mine", 5)
    assert ready.source == "uploaded file"
    assert files(tmp_path) == [ready.path] and ready.path.read_bytes() == data  # the upload itself is gone
    with pytest.raises(NotFound, match="expired or was already handled"):
        prepared.take(ready.id, 6)
    assert prepared.take(ready.id, 5) == ready


async def test_data_with_problems_or_of_the_other_method_is_refused_and_leaves_no_files(tmp_path: Path) -> None:
    datasets, _ = preparer(tmp_path)
    with pytest.raises(InvalidInput) as problems:
        await datasets.from_upload(chunks(sft("q1", "a1"), b"{oops\n"), "jsonl", ask(tmp_path))
    assert str(problems.value).startswith("The training data has problems:\n```\nline 2: not valid JSON")
    with pytest.raises(InvalidInput) as wrong:
        await datasets.from_upload(chunks(sft("q1", "a1"), sft("q2", "a2")), "jsonl", ask(tmp_path, method="dpo"))
    assert str(wrong.value) == "The data holds plain examples (supervised), which does not fit method `dpo`."
    assert files(tmp_path) == []


async def approved_ones(db: Database, count: int) -> list[Correction]:
    for n in range(count):
        await approved(db, f"Question {n}?", f"Answer {n}.")
    return await CorrectionStore(db).with_status(5, "approved")


async def test_approved_corrections_become_the_training_data_minus_the_held_out_ones(
    db: Database, tmp_path: Path
) -> None:
    settings = TrainingSettings(min_examples=2, held_out_share=0.01, held_out_min=1)  # 4: one is kept back
    datasets, _ = preparer(tmp_path, settings)
    ready = await datasets.from_corrections(await approved_ones(db, 4), ask(tmp_path), None)
    assert (ready.method, ready.report.examples) == ("sft", 3)
    assert ready.source == "3 approved corrections (1 held out for testing)"
    assert files(tmp_path) == [ready.path]


async def test_no_corrections_or_only_held_out_ones_say_what_to_do(db: Database, tmp_path: Path) -> None:
    datasets, _ = preparer(tmp_path, TrainingSettings(min_examples=1, held_out_share=0.99, held_out_min=0))
    with pytest.raises(NotFound, match=r"^There are no approved corrections yet\. Review some with `/corrections"):
        await datasets.from_corrections([], ask(tmp_path), None)
    with pytest.raises(NotFound, match=r"^All 1 approved corrections are held out as the test set\."):
        await datasets.from_corrections(await approved_ones(db, 1), ask(tmp_path), None)
