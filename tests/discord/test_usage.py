"""How spending reads in Discord: dollar amounts, calls without a price, what a job would spend against what the
month has left, and the budget notices at 80 % and 100 %."""

from __future__ import annotations

from bot.discord.usage import budget_left_text, cost_text, estimate_line, notice_text, usd
from bot.llm.usage import Budget, BudgetNotice, Estimate


def test_cents_keep_four_decimals_and_dollars_two_with_thousands_separated() -> None:
    assert usd(0.01234) == "$0.0123"
    assert usd(1234.5) == "$1,234.50"


def test_calls_to_a_model_without_a_price_are_said_not_hidden() -> None:
    assert cost_text(0.5, 0) == "≈ $0.5000"
    assert cost_text(0.5, 1) == "≈ $0.5000 + cost unknown for 1 call (no price configured)"
    assert cost_text(0.0, 1200) == "cost unknown for 1,200 calls (no price configured)"


def test_an_estimate_says_what_the_month_has_left_and_warns_when_the_job_alone_goes_past_it() -> None:
    fits = Estimate(tokens=40_000, usd=0.2, tokens_left=100_000, usd_left=5.0)
    assert estimate_line(fits) == (
        "It may use up to 40,000 tokens (≈ $0.2000); this server's monthly budget has 100,000 tokens and $5.00 left."
    )
    assert budget_left_text(fits) == "100,000 tokens and $5.00 left this month."
    too_big = Estimate(tokens=40_000, usd=None, tokens_left=30_000, usd_left=None)
    assert estimate_line(too_big) == (
        "It may use up to 40,000 tokens (cost unknown (a model has no price)); "
        "this server's monthly budget has 30,000 tokens left."
    )
    assert budget_left_text(too_big) == "30,000 tokens left this month. ⚠️ This job alone would go past it."
    unlimited = Estimate(tokens=40_000, usd=0.2, tokens_left=None, usd_left=None)
    assert estimate_line(unlimited) == "It may use up to 40,000 tokens (≈ $0.2000)."
    assert budget_left_text(unlimited) == "No monthly budget is set (`/usage budget`)."


def test_the_notices_say_how_much_is_used_and_the_last_one_that_questions_are_refused() -> None:
    budget = Budget(monthly_tokens=1_000_000, monthly_usd=20.0, member_daily_tokens=0)
    warning = notice_text(BudgetNotice(guild_id=5, level=80, budget=budget, tokens=800_000, usd=12.0))
    assert warning.startswith("⚠️ This server has used 80 % of its model budget for this month")
    assert "(800,000 of 1,000,000 tokens, ≈ $12.00 of $20.00)" in warning
    spent = notice_text(BudgetNotice(guild_id=5, level=100, budget=budget, tokens=1_000_000, usd=15.0))
    assert spent.startswith("⛔ This server has used its whole model budget for this month")
    assert "Questions, model tests and training are refused until 1 " in spent and "`/usage budget`" in spent
