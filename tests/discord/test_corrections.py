"""How corrections look in Discord: which answer a Correct button belongs to (only on the bot's own messages), the
form's title warning when a private answer will be shared, the notices after voting and saving, and the review card."""

from __future__ import annotations

import hikari
import pytest

from bot.discord.corrections import (
    answer_for,
    answer_id_on,
    form_title,
    review_card,
    saved_notice,
    voted_notice,
    wrong_form_title,
)
from bot.errors import NotAllowed
from bot.store.answers import AnswerStore
from bot.store.corrections import Actor, Correction, CorrectionStore
from bot.store.database import Database
from bot.store.votes import Tally
from tests.store.conftest import stored_answer

BOT = 1000


def button(custom_id: str | None, style: hikari.ButtonStyle = hikari.ButtonStyle.SECONDARY) -> hikari.ButtonComponent:
    url = None if custom_id else "https://example.com"
    return hikari.ButtonComponent(
        type=hikari.ComponentType.BUTTON,
        id=1,
        style=style,
        label="x",
        emoji=None,
        custom_id=custom_id,
        url=url,
        is_disabled=False,
    )


class Author:
    def __init__(self, user_id: int) -> None:
        self.id = hikari.Snowflake(user_id)


class Message:
    def __init__(self, author: int, *buttons: hikari.ButtonComponent) -> None:
        self.author = Author(author)
        self.components = [hikari.ActionRowComponent(list(buttons), type=hikari.ComponentType.ACTION_ROW, id=2)]


def test_the_correct_button_on_the_bots_own_message_names_its_answer() -> None:
    message = Message(BOT, button(None), button("vote:up.42"), button("correct:42"))
    assert answer_id_on(message, BOT) == 42  # type: ignore[arg-type]


def test_buttons_on_someone_elses_message_or_with_forged_ids_name_nothing() -> None:
    assert answer_id_on(Message(7, button("correct:42")), BOT) is None  # type: ignore[arg-type]
    for forged in ("correct:abc", "correct:-1", "correct:" + "9" * 21, "correct", "corrected:42"):
        assert answer_id_on(Message(BOT, button(forged)), BOT) is None, forged  # type: ignore[arg-type]


async def test_a_private_or_dm_answers_form_warns_that_reviewers_will_see_it(db: Database) -> None:
    public, private, dm = (
        await stored_answer(db),
        await stored_answer(db, private=True),
        await stored_answer(db, guild=None),
    )
    assert form_title(public) == "Correct this answer"
    assert form_title(private) == form_title(dm) == "Correct (reviewers will see this answer)"
    assert all(len(form_title(a)) <= 45 for a in (public, private))  # Discord's limit for a form's title
    assert wrong_form_title(public) == "👎 noted. What was wrong? Correct it"
    assert wrong_form_title(private) == "Correct (reviewers will see this answer)"


async def test_dm_answers_are_corrected_only_where_someone_reviews_them(db: Database) -> None:
    dm = await stored_answer(db, guild=None)
    asker = Actor(user_id=1, guild_id=None, channel_id=10)
    with pytest.raises(NotAllowed, match=r"^Corrections of answers given in DMs are not collected by this bot\.$"):
        await answer_for(AnswerStore(db), dm.id, asker, None)
    assert (await answer_for(AnswerStore(db), dm.id, asker, 77)).id == dm.id
    stranger = Actor(user_id=2, guild_id=None, channel_id=10)
    with pytest.raises(NotAllowed, match="only they can correct it"):
        await answer_for(AnswerStore(db), dm.id, stranger, 77)


def test_the_vote_notice_says_which_vote_counted_and_the_tally() -> None:
    assert voted_notice(Tally(up=3, down=1, mine="up")) == (
        "Thanks, your 👍 is counted (tap the other to change it). This answer: 👍 3 · 👎 1"
    )
    assert voted_notice(Tally(up=3, down=2, mine="down")).startswith("Thanks, your 👎 is counted")


async def correction(db: Database, corrected: str = "Canberra.", note: str | None = None, **kind: bool) -> Correction:
    return (await CorrectionStore(db).submit(await stored_answer(db, **kind), 7, corrected, note)).correction


async def test_saving_says_new_or_updated_and_quotes_the_correction_cut_to_fit(db: Database) -> None:
    saved = await correction(db)
    assert saved_notice(saved, updated=False) == (
        f"Thanks! Saved your correction #{saved.id} for answer #{saved.answer_id}; an admin will review it.\n"
        ">>> Canberra."
    )
    long = saved_notice(await correction(db, "x" * 3000), updated=True)
    assert long.startswith("Updated your pending correction #") and len(long) < 1700


async def test_the_review_card_shows_both_answers_and_warns_of_privacy_with_approve_reject_edit(
    db: Database,
) -> None:
    private = await correction(db, note="Sydney is not the capital.", private=True)
    embed, (row,) = review_card(private)
    shown = {f.name: f.value for f in embed.fields}
    assert embed.title == f"Correction #{private.id} · answer #{private.answer_id}"
    assert (shown["Bot's answer"], shown["Proposed answer"]) == ("Sydney.", "Canberra.")
    assert shown["Note"] == "Sydney is not the capital." and shown["Privacy"].startswith("🔒")
    ids = [c.build()[0]["custom_id"] for c in row.components]  # type: ignore[attr-defined]
    assert ids == [f"review:approve.{private.id}", f"review:reject.{private.id}", f"review:edit.{private.id}"]
    public, _ = review_card(await correction(db))
    assert "Privacy" not in {f.name for f in public.fields} and "Note" not in {f.name for f in public.fields}
