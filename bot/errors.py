"""Typed domain errors: each carries the short message a Discord user sees."""

from __future__ import annotations

from bot.i18n import _


class UserError(Exception):
    """An error caused by what the user asked for; its message is shown to them as-is (ephemeral), so it is written
    through the catalog (`_()`, bot/i18n.py) where it is raised, in the language of the interaction being answered."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(UserError):
    """The input was malformed, too long, of the wrong type, or otherwise unacceptable."""


class NotFound(UserError):
    """A referenced record (answer, correction, job, model) does not exist here."""


class NotAllowed(UserError):
    """The caller lacks the permission or role for this action."""


class RateLimited(UserError):
    """The caller made too many model calls in the configured window."""

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, round(retry_after))
        super().__init__(_("You're asking too fast. Try again in {seconds} s.", seconds=seconds))
        self.retry_after = retry_after


class OverLimit(UserError):
    """A costly action may not start now: one like it is already running, or a cap or budget on it is reached."""


class ServiceUnavailable(UserError):
    """An upstream service (model provider, speech engine) failed in a way the user should know about."""


class AfterAnswer(Exception):
    """Something failed after the answer was already shown: the answer stays, and the error is added below it."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class ConfigError(Exception):
    """Configuration is missing or invalid; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
