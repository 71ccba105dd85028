"""`/corrections` buttons and files: a review button acts only on this server's queue and moves on to the next
correction, list page buttons are read back safely, and the export holds the right corrections."""

from __future__ import annotations

import json

import pytest

from bot.discord.correction_flows import approve_edited, export_file, page_named, review, review_target
from bot.errors import InvalidInput, NotFound
from bot.finetuning.settings import TrainingSettings
from bot.store.corrections import Correction, CorrectionStore
from bot.store.database import Database
from tests.store.conftest import stored_answer

NO_HOLD_OUT = TrainingSettings(held_out_share=0.0, held_out_min=0)


async def submitted(db: Database, question: str, corrected: str, guild: int = 5) -> Correction:
    answer = await stored_answer(db, question, guild=guild)
    return (await CorrectionStore(db).submit(answer, 7, corrected)).correction


async def test_a_review_button_names_its_action_and_a_correction_of_this_servers_queue(db: Database) -> None:
    store = CorrectionStore(db)
    mine = await submitted(db, "Capital of Australia?", "Canberra.")
    theirs = await submitted(db, "Capital of Canada?", "Ottawa.", guild=6)
    action, found = await review_target(store, 5, f"approve.{mine.id}")
    assert (action, found.id) == ("approve", mine.id)
    with pytest.raises(NotFound, match=rf"Correction #{theirs.id} is not in this server's queue\."):
        await review_target(store, 5, f"approve.{theirs.id}")
    for forged in (f"delete.{mine.id}", "approve.x", "approve"):
        with pytest.raises(InvalidInput, match="out of date"):
            await review_target(store, 5, forged)


async def test_approving_and_rejecting_say_so_and_show_the_next_pending_correction(db: Database) -> None:
    store = CorrectionStore(db)
    first = await submitted(db, "Capital of Australia?", "Canberra.")
    second = await submitted(db, "Capital of Canada?", "Ottawa.")
    card = await review(store, 5, first, "approve", 99)
    assert card.content == f"✅ Correction #{first.id} approved. Pending corrections, oldest first:"
    assert len(card.embeds) == 1 and card.components
    card = await review(store, 5, second, "reject", 99)
    assert card.content == f"❌ Correction #{second.id} rejected. 🎉 No corrections are waiting for review."
    assert (card.embeds, card.components) == ([], [])
    assert [c.id for c in await store.with_status(5, "approved")] == [first.id]
    assert [c.id for c in await store.with_status(5, "rejected")] == [second.id]


async def test_the_edit_form_approves_the_reviewers_text_only_in_this_servers_queue(db: Database) -> None:
    store = CorrectionStore(db)
    mine = await submitted(db, "Capital of Australia?", "Canberra")
    theirs = await submitted(db, "Capital of Canada?", "Ottawa.", guild=6)
    card = await approve_edited(store, 5, str(mine.id), 99, "Canberra is the capital.")
    assert card.content.startswith(f"✅ Correction #{mine.id} edited and approved.")
    approved = await store.get(mine.id)
    assert approved is not None and approved.corrected_answer == "Canberra is the capital."
    with pytest.raises(NotFound):
        await approve_edited(store, 5, str(theirs.id), 99, "Ottawa is the capital.")
    untouched = await store.get(theirs.id)
    assert untouched is not None and untouched.status == "pending"


def test_a_list_page_button_carries_offset_status_and_author() -> None:
    assert page_named("20.approved.7") == (20, "approved", 7)
    assert page_named("0.all.0") == (0, None, None)
    for forged in ("0.deleted.0", "x.all.0", "0.all", "10.pending.-1"):
        with pytest.raises(InvalidInput, match="out of date"):
            page_named(forged)


async def test_the_export_holds_the_servers_corrections_of_a_status_as_training_lines(db: Database) -> None:
    store = CorrectionStore(db)
    kept = await submitted(db, "Capital of Australia?", "Canberra.")
    await store.review(kept.id, 99, "approved")
    await submitted(db, "Capital of Canada?", "Ottawa.")  # still pending
    other = await submitted(db, "Capital of Peru?", "Lima.", guild=6)
    await store.review(other.id, 99, "approved")
    text, file = await export_file(store, 5, "approved", "sft", training=NO_HOLD_OUT, system_prompt=None)
    assert text == "1 approved correction(s) as SFT training lines (0 held out for testing)."
    assert file.filename == "corrections-approved-sft.jsonl"
    (line,) = (await file.read()).decode().splitlines()
    messages = json.loads(line)["messages"]
    assert messages[-2:] == [
        {"role": "user", "content": "Capital of Australia?"},
        {"role": "assistant", "content": "Canberra."},
    ]
    pending, _ = await export_file(store, 5, "pending", "dpo", training=NO_HOLD_OUT, system_prompt=None)
    assert pending == "1 pending correction(s) as DPO training lines."


async def test_there_is_nothing_to_export_without_corrections_of_that_status(db: Database) -> None:
    with pytest.raises(NotFound, match=r"^There are no rejected corrections to export yet\.$"):
        await export_file(CorrectionStore(db), 5, "rejected", "sft", training=NO_HOLD_OUT, system_prompt=None)


async def test_the_held_out_test_set_never_goes_into_an_export(db: Database) -> None:
    store = CorrectionStore(db)
    for n in range(4):
        correction = await submitted(db, f"Question {n}?", f"Answer {n}.")
        await store.review(correction.id, 99, "approved")
    training = TrainingSettings(held_out_share=0.01, held_out_min=1)  # 4 corrections: at least one kept back
    text, file = await export_file(store, 5, "approved", "sft", training=training, system_prompt=None)
    assert text == "3 approved correction(s) as SFT training lines (1 held out for testing)."
    exported = {json.loads(line)["messages"][-2]["content"] for line in (await file.read()).decode().splitlines()}
    assert len(exported) == 3 and exported < {f"Question {n}?" for n in range(4)}
