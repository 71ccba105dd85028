"""How a model test reads in Discord: the score line under a trained model, why a test did not start (linking the
running one only for who can see its channel), and progress edits spaced out for Discord's rate limit."""

from __future__ import annotations

import datetime as dt

from bot.discord.model_tests import ProgressEdits, notice_line, refusal_text, score_line
from bot.evaluation.model_test import EvalRefusal
from bot.evaluation.scorecard import scorecard
from bot.store.model_tests import ModelTest, TestStatus
from tests.evaluation.test_scorecard import item

STARTED = dt.datetime(2027, 1, 1, 12, tzinfo=dt.UTC)


def _test(status: TestStatus = "done", channel_id: int | None = None, message_id: int | None = None) -> ModelTest:
    return ModelTest(
        guild_id=5, model="ft:new", against="gpt-4o-mini", with_corrections=False, judge_model="judge",
        source="corrections", total=3, id=7, status=status, created_at=STARTED, requested_by=9,
        channel_id=channel_id, message_id=message_id,
    )  # fmt: skip


def test_the_score_line_counts_correct_answers_and_says_what_went_ungraded() -> None:
    card = scorecard([item(0, 9, 3, "correct"), item(1, 4, 8), item(2, None, 5)])
    assert score_line(card) == "new 1/3, current 0/3 (mean score 6.5 vs 5.5 · 1 wins, 0 ties, 1 losses) · 1 ungraded"
    assert score_line(scorecard([])) == "no test questions yet"


def test_a_trained_model_s_notice_warns_when_it_scored_worse_or_was_not_tested() -> None:
    worse = scorecard([item(0, 1, 9)])
    assert notice_line(_test(), worse).endswith("⚠️ It scored worse than the current model.")
    assert notice_line(_test(), scorecard([item(0, 9, 1, "correct")])) == (
        "🧪 Test: new 1/1, current 0/1 (mean score 9.0 vs 1.0 · 1 wins, 0 ties, 0 losses)."
    )
    assert "run `/model test` before activating it" in notice_line(_test("failed"), worse)
    assert "no test questions yet" in notice_line(_test(), scorecard([]))


def test_a_running_test_is_linked_only_for_members_who_can_see_its_channel() -> None:
    running = EvalRefusal("running", running=_test("running", channel_id=10, message_id=11))
    linked = refusal_text(running, 5, sees_channel=True)
    assert linked.startswith(f"🧪 Test #7 is already running in this server (started <t:{int(STARTED.timestamp())}:R>")
    assert "by <@9>): https://discord.com/channels/5/10/11." in linked
    hidden = refusal_text(running, 5, sees_channel=False)
    assert "discord.com" not in hidden and ", in a channel you cannot see." in hidden


def test_a_test_bigger_than_the_whole_budget_asks_for_a_smaller_test_set() -> None:
    too_big = refusal_text(EvalRefusal("budget", needed=900, budget=600, window_h=24), 5, sees_channel=True)
    assert "more than this server's whole budget of 600 model calls per 24 h" in too_big and "/model testset" in too_big
    frees = STARTED + dt.timedelta(hours=3)
    busy = EvalRefusal("budget", needed=90, budget=600, used=550, window_h=24, frees_at=frees)
    later = refusal_text(busy, 5, sees_channel=True)
    assert "have used 550 of its 600 model calls per 24 h, so it was not started." in later
    assert later.endswith(f"It fits again <t:{int(frees.timestamp())}:R>.")


async def test_progress_is_edited_at_most_once_per_interval_and_not_for_the_last_question() -> None:
    shown: list[str] = []
    now = [0.0]

    async def edit(text: str) -> None:
        shown.append(text)

    progress = ProgressEdits(edit, 5.0, clock=lambda: now[0])
    for done, at in [(1, 0.0), (2, 1.0), (3, 4.9), (4, 5.0), (5, 6.0), (6, 12.5)]:
        now[0] = at
        await progress(done, 6)
    # 2/6 and 3/6 came too soon after 1/6, 5/6 too soon after 4/6; 6/6 is replaced by the scorecard.
    assert shown == ["🧪 Testing… 1/6 graded", "🧪 Testing… 4/6 graded"]
