"""The typed errors every package raises: what the member reads of them, and what an operator reads of bad config."""

from __future__ import annotations

from bot.errors import AfterAnswer, ConfigError, InvalidInput, RateLimited, UserError


def test_a_rate_limit_says_when_to_try_again_in_whole_seconds_never_zero() -> None:
    assert str(RateLimited(12.4)) == "You're asking too fast. Try again in 12 s."
    assert str(RateLimited(0.2)) == "You're asking too fast. Try again in 1 s."
    assert RateLimited(0.2).retry_after == 0.2 and isinstance(RateLimited(1), UserError)


def test_an_error_after_the_answer_reads_as_its_cause_and_keeps_it() -> None:
    cause = InvalidInput("The vote button is out of date.")
    after = AfterAnswer(cause)
    assert after.cause is cause and str(after) == "The vote button is out of date."


def test_every_config_problem_is_listed_one_per_line() -> None:
    problems = ["llm.max_answer_tokens: must be > 0", "discord.chat_channels: must be channel ids"]
    error = ConfigError(problems)
    assert error.problems == problems
    assert str(error).splitlines() == problems
