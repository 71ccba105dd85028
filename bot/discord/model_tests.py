"""How model tests look in Discord: what a test will cost before it starts and why one may not start, progress while
one runs, the scorecard (with its chart), the per-question pages, and the scorecard line of a finished training job's
notice."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import hikari

from bot.discord import custom_ids as keys
from bot.discord.message_split import clip
from bot.discord.pager import footer, pager_row
from bot.discord.usage import estimate_line
from bot.errors import NotFound
from bot.evaluation.model_test import EvalRefusal, StartedTest
from bot.evaluation.scorecard import Scorecard
from bot.i18n import _, pgettext
from bot.store.model_tests import ModelTest, ModelTestStore, Side

VERDICT_EMOJI = {"correct": "✅", "partly": "🟡", "wrong": "❌"}


def verdict_name(verdict: str) -> str:
    """A grader's verdict as shown (stored in English)."""
    names = {
        "correct": pgettext("verdict", "correct"),
        "partly": pgettext("verdict", "partly"),
        "wrong": pgettext("verdict", "wrong"),
    }
    return names.get(verdict, verdict)


def score_line(card: Scorecard) -> str:
    """ "new 17/20, current 6/20 (mean score 8.1 vs 3.0 · 15 wins, 3 ties, 2 losses)"."""
    if not card.total:
        return _("no test questions yet")

    def mean(value: float | None) -> str:
        return "–" if value is None else f"{value:.1f}"

    line = _(
        "new {model}/{total}, current {against}/{total}",
        model=card.model_correct,
        against=card.against_correct,
        total=card.total,
    )
    if card.graded:
        line += " " + _(
            "(mean score {model} vs {against} · {wins} wins, {ties} ties, {losses} losses)",
            model=mean(card.model_mean),
            against=mean(card.against_mean),
            wins=card.wins,
            ties=card.ties,
            losses=card.losses,
        )
    if card.graded < card.total:
        line += " · " + _("{count} ungraded", count=card.total - card.graded)
    return line


def notice_line(test: ModelTest | None, card: Scorecard | None) -> str:
    """The test result under a finished job's notice."""
    if test is None or test.status == "failed" or card is None:
        return _("⚠️ Testing failed, so this model has no score yet: run `/model test` before activating it.")
    if not card.total:
        return _(
            "🧪 Not tested: there are no test questions yet (approved corrections are held out as tests once "
            "there are some; `/model testset` uploads a test set)."
        )
    warning = " " + _("⚠️ It scored worse than the current model.") if card.worse else ""
    return _("🧪 Test: {score}.", score=score_line(card)) + warning


def _hours(hours: float) -> str:
    return _("{hours} h", hours=f"{hours:g}")


def start_text(started: StartedTest) -> str:
    """Shown before the first model call: what the test may cost and what the server's budget has left."""
    test = started.test
    left = started.budget - started.used_before - test.calls
    return _(
        "🧪 Testing `{model}` against `{against}` on {total} questions: up to {calls} model calls (each model's "
        "answer and its grading). This server's budget is {budget} calls per {window}: {used} used before this "
        "test, at least {left} left after it (calls a test does not make are given back when it ends).",
        model=clip(test.model, 80),
        against=clip(test.against, 80),
        total=test.total,
        calls=f"{test.calls:,}",
        budget=f"{started.budget:,}",
        window=_hours(started.window_h),
        used=f"{started.used_before:,}",
        left=f"{left:,}",
    ) + (f" {estimate_line(started.estimate)}" if started.estimate is not None else "")


def refusal_text(refusal: EvalRefusal, guild_id: int, *, sees_channel: bool) -> str:
    """Why /model test did not start; a test already running is linked when the caller can see its channel."""
    if refusal.reason == "busy":
        if refusal.running_here == 1:
            return _(
                "🧪 The bot is running {count} model test at the moment, the most it runs at once. Try again when "
                "one has finished.",
                count=refusal.running_here,
            )
        return _(
            "🧪 The bot is running {count} model tests at the moment, the most it runs at once. Try again when "
            "one has finished.",
            count=refusal.running_here,
        )
    if refusal.reason == "running":
        running = refusal.running
        assert running is not None
        who = " " + _("by <@{user_id}>", user_id=running.requested_by) if running.requested_by is not None else ""
        when = f"<t:{int(running.created_at.timestamp())}:R>"
        if running.channel_id is not None and running.message_id is not None and sees_channel:
            where = f": https://discord.com/channels/{guild_id}/{running.channel_id}/{running.message_id}"
        elif running.channel_id is not None:
            where = _(", in a channel you cannot see")
        else:
            where = ""
        return _(
            "🧪 Test #{id} is already running in this server (started {when}{who}){where}. A server runs one "
            "test at a time: try again once it has finished.",
            id=running.id,
            when=when,
            who=who,
            where=where,
        )
    budget = _("{calls} model calls per {window}", calls=f"{refusal.budget:,}", window=_hours(refusal.window_h))
    if refusal.needed > refusal.budget:
        return _(
            "🧪 This test needs up to {needed} model calls, more than this server's whole budget of "
            "{budget}. Upload a smaller test set with `/model testset`.",
            needed=f"{refusal.needed:,}",
            budget=budget,
        )
    again = (
        " " + _("It fits again <t:{when}:R>.", when=int(refusal.frees_at.timestamp()))
        if refusal.frees_at is not None
        else ""
    )
    return (
        _(
            "🧪 This test needs up to {needed} model calls, but this server's tests have used "
            "{used} of its {budget}, so it was not started.",
            needed=f"{refusal.needed:,}",
            used=f"{refusal.used:,}",
            budget=budget,
        )
        + again
    )


def progress_text(done: int, total: int) -> str:
    return _("🧪 Testing… {done}/{total} graded", done=done, total=total)


class ProgressEdits:
    """Shows "12/40 graded" by editing one message at most once per interval (Discord's edit rate limit)."""

    def __init__(
        self,
        edit: Callable[[str], Awaitable[object]],
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._edit = edit
        self._interval = interval_s
        self._clock = clock
        self._last = float("-inf")

    async def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        if now - self._last < self._interval or done == total:
            return  # the last one is replaced by the scorecard
        self._last = now
        await self._edit(progress_text(done, total))


def scorecard_embed(test: ModelTest, card: Scorecard) -> hikari.Embed:
    title = _("Test #{id}: `{model}`", id=test.id, model=clip(test.model, 80))
    against = _("against `{model}`", model=clip(test.against, 200))
    embed = hikari.Embed(title=title, description=against, color=0x5865F2)
    embed.add_field(_("Result"), score_line(card))
    source = _("held-out approved corrections") if test.source == "corrections" else _("the uploaded test set")
    embed.add_field(_("Questions"), _("{total} from {source}", total=card.total, source=source), inline=True)
    embed.add_field(_("Corrections given"), _("yes") if test.with_corrections else _("no"), inline=True)
    if card.model_similarity is not None and card.against_similarity is not None:
        overlap = f"{card.model_similarity:.2f} vs {card.against_similarity:.2f} (0–1)"
        embed.add_field(_("Word overlap"), overlap, inline=True)
    if card.worse:
        embed.add_field("⚠️", _("The tested model scored worse than the one it was tested against."))
    embed.set_footer(_("graded by {model}", model=test.judge_model))
    return embed


def items_button(test_id: int) -> hikari.api.MessageActionRowBuilder:
    return hikari.impl.MessageActionRowBuilder().add_interactive_button(
        hikari.ButtonStyle.SECONDARY, keys.custom_id(keys.TEST_ITEMS, test_id), label=_("Show each question")
    )


def _side(name: str, side: Side) -> str:
    if side.answer is None:
        return f"**{name}**: " + _("no answer (the model failed)")
    verdict = (
        f"{VERDICT_EMOJI.get(side.verdict or '', '')} {verdict_name(side.verdict or '')} · "
        + _("score {score}/10", score=side.score)
        if side.score is not None
        else _("ungraded")
    )
    reason = f" — {clip(side.reason, 200)}" if side.reason else ""
    return f"**{name}** ({verdict}{reason})\n{clip(side.answer, 400)}"


async def model_test_in_guild(store: ModelTestStore, guild_id: int | None, test_id: int) -> ModelTest:
    """The test, if it belongs to this server (ids arrive from buttons)."""
    test = await store.get(test_id)
    if test is None or test.guild_id != guild_id:
        raise NotFound(_("There is no test #{test_id} in this server.", test_id=test_id))
    return test


async def item_page(
    store: ModelTestStore, test: ModelTest, offset: int
) -> tuple[hikari.Embed, list[hikari.api.MessageActionRowBuilder]]:
    """One question per page: the question, the corrected answer, each model's answer and verdict."""
    found = await store.items(test.id, offset=offset, limit=1)
    if not found:
        return hikari.Embed(title=_("Test #{id}", id=test.id), description=_("No questions were graded.")), []
    item = found[0]
    text = "\n\n".join(
        [
            f"**{_('Question')}**\n{clip(item.question.question, 500)}",
            f"**{_('Corrected answer')}**\n{clip(item.question.expected, 500)}",
            _side(_("new · {model}", model=clip(test.model, 60)), item.model),
            _side(_("current · {model}", model=clip(test.against, 60)), item.against),
        ]
    )
    title = _("Test #{id} · question {number}", id=test.id, number=offset + 1)
    embed = hikari.Embed(title=title, description=clip(text, 4000))
    embed.set_footer(footer(offset, 1, test.total))
    return embed, pager_row(keys.TEST_PAGE, offset, 1, test.total, test.id)
