"""Training lines from reviewed corrections and endorsed answers."""

from __future__ import annotations

import datetime as dt
import json

from bot.finetuning.builder import corrections_dataset
from bot.store.corrections import Correction, Kind

NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)


def reviewed(correction_id: int, kind: Kind, original: str, corrected: str) -> Correction:
    return Correction(
        id=correction_id,
        answer_id=correction_id,
        guild_id=1,
        channel_id=2,
        author_id=3,
        asker_id=4,
        private=False,
        question=f"Question {correction_id}?",
        original_answer=original,
        corrected_answer=corrected,
        note=None,
        transcript=None,
        corrected_transcript=None,
        model="m",
        status="approved",
        reviewer_id=5,
        reviewed_at=NOW,
        created_at=NOW,
        updated_at=NOW,
        system_prompt="",
        kind=kind,
    )


def test_an_endorsed_answer_trains_as_given_and_makes_no_preference_pair() -> None:
    found = [reviewed(1, "correction", "Sydney.", "Canberra."), reviewed(2, "endorsement", "Four.", "Four.")]
    sft = [json.loads(line) for line in corrections_dataset(found, "sft", None).decode().splitlines()]
    assert [line["messages"] for line in sft] == [
        [{"role": "user", "content": "Question 1?"}, {"role": "assistant", "content": "Canberra."}],
        [{"role": "user", "content": "Question 2?"}, {"role": "assistant", "content": "Four."}],
    ]
    dpo = [json.loads(line) for line in corrections_dataset(found, "dpo", None).decode().splitlines()]
    assert [line["preferred_output"][0]["content"] for line in dpo] == ["Canberra."]
