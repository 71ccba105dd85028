"""Datasets waiting for Confirm: taken once, only in the server they were prepared in."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.errors import NotFound
from bot.finetuning.awaiting_confirm import PreparedDataset, PreparedDatasets
from bot.finetuning.training_files import DatasetReport


def waiting(tmp_path: Path) -> tuple[PreparedDatasets, PreparedDataset]:
    store = PreparedDatasets(tmp_path, ttl_s=600)
    path = store.new_path()
    path.write_bytes(b"{}\n")
    report = DatasetReport("sft", 10, 100, 300, None, [], 0, "ab" * 32)
    prepared = PreparedDataset("p1", path, report, "sft", "base", None, 1, 10, 20, "uploaded file", time.monotonic())
    store.add(prepared)
    return store, prepared


def test_another_servers_button_neither_confirms_nor_cancels_a_waiting_dataset(tmp_path: Path) -> None:
    store, prepared = waiting(tmp_path)
    with pytest.raises(NotFound):
        store.take("p1", guild_id=2)
    store.discard("p1", guild_id=2)
    assert prepared.path.exists()
    assert store.take("p1", guild_id=1) is prepared
    with pytest.raises(NotFound):  # once only
        store.take("p1", guild_id=1)
