"""Grading one answer: a judge model with a fixed rubric that must answer with a strict JSON verdict, and a cheap
lexical similarity (token F1) as a second figure."""

from __future__ import annotations

import collections
import json
import logging
import re
from typing import Any, Literal, cast

import attrs

from bot.errors import ServiceUnavailable
from bot.llm.chat import ChatMessage, ChatModel
from bot.llm.usage import Spender

_log = logging.getLogger(__name__)

Verdict = Literal["correct", "partly", "wrong"]
VERDICTS: tuple[Verdict, ...] = ("correct", "partly", "wrong")
MAX_REASON_CHARS = 500
RUBRIC = (
    "You grade an assistant's answer against a reference answer that a community has checked. Judge only whether "
    "the answer states the reference's facts; ignore style, length and politeness. An answer that contradicts the "
    "reference is wrong even if it sounds plausible.\n"
    "Reply with one JSON object and nothing else, exactly these keys:\n"
    '{"score": <integer 0-10>, "verdict": "correct" | "partly" | "wrong", "reason": "<one short sentence>"}\n'
    "10 = every fact of the reference, nothing contradicting it; 5 = some facts right, some missing or wrong; "
    "0 = contradicts or misses the reference."
)
WORD = re.compile(r"[^\W_]+")


@attrs.frozen
class Grade:
    score: int
    verdict: Verdict
    reason: str


def parse_grade(text: str) -> Grade | None:
    """The judge's verdict, or None unless it is exactly the JSON object the rubric asks for."""
    try:
        value: Any = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    obj = cast(dict[str, Any], value)
    if set(obj) != {"score", "verdict", "reason"}:
        return None
    score, verdict, reason = obj["score"], obj["verdict"], obj["reason"]
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        return None
    if verdict not in VERDICTS or not isinstance(reason, str):
        return None
    return Grade(score, verdict, reason.strip()[:MAX_REASON_CHARS])


def token_f1(answer: str, expected: str) -> float:
    """Overlap of the two answers' words (SQuAD-style F1), 0–1."""
    got = WORD.findall(answer.lower())
    want = WORD.findall(expected.lower())
    if not got or not want:
        return 0.0
    common = sum((collections.Counter(got) & collections.Counter(want)).values())
    if not common:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


class Judge:
    def __init__(self, chat: ChatModel, model: str, *, timeout_s: float) -> None:
        self._chat = chat
        self.model = model
        self._timeout = timeout_s

    async def grade(
        self, question: str, expected: str, answer: str, *, guild_id: int | None = None, user_id: int | None = None
    ) -> Grade | None:
        """The verdict, or None (ungraded) when the judge fails, times out, is rate-limited or answers garbage."""
        messages = [
            ChatMessage("system", RUBRIC),
            ChatMessage(
                "user",
                f"Question:\n{question}\n\nReference answer:\n{expected}\n\nAnswer to grade:\n{answer}\n\n"
                "Reply with the JSON object.",
            ),
        ]
        try:
            text = await self._chat.complete(
                self.model,
                messages,
                spender=Spender("judge", guild_id, user_id),
                timeout_s=self._timeout,
                json_object=True,
            )
        except ServiceUnavailable:
            return None  # already logged by the chat model
        grade = parse_grade(text)
        if grade is None:
            _log.warning("the judge %s answered something that is not a verdict: %.200r", self.model, text)
        return grade
