"""Training lines from corrections, in OpenAI's fine-tuning formats (supervised and DPO preference pairs)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs

from bot.store.corrections import Correction
from bot.training.trainer import Method


@attrs.frozen
class CorrectionExample:
    question: str
    original_answer: str
    corrected_answer: str
    system_prompt: str | None = None


def _prompt(example: CorrectionExample) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": example.system_prompt}] if example.system_prompt else []
    return [*messages, {"role": "user", "content": example.question}]


def sft_line(example: CorrectionExample) -> dict[str, Any]:
    """`{"messages": [system?, user, assistant=corrected]}`."""
    return {"messages": [*_prompt(example), {"role": "assistant", "content": example.corrected_answer}]}


def dpo_line(example: CorrectionExample) -> dict[str, Any]:
    """The corrected answer preferred over the bot's original one."""
    return {
        "input": {"messages": _prompt(example)},
        "preferred_output": [{"role": "assistant", "content": example.corrected_answer}],
        "non_preferred_output": [{"role": "assistant", "content": example.original_answer}],
    }


def training_line(example: CorrectionExample, method: Method) -> dict[str, Any]:
    return sft_line(example) if method == "sft" else dpo_line(example)


def jsonl(examples: Iterable[CorrectionExample], method: Method) -> bytes:
    """One JSON object per line, UTF-8, newline-terminated."""
    return b"".join(json.dumps(training_line(e, method), ensure_ascii=False).encode() + b"\n" for e in examples)


def corrections_dataset(corrections: Iterable[Correction], method: Method, system_prompt: str | None) -> bytes:
    """Corrections as training lines (the one step shared by /train and /corrections export): the question as the
    user meant it, the bot's answer as the rejected one, the correction as the preferred one."""
    examples = [
        CorrectionExample(c.question_for_training, c.original_answer, c.corrected_answer, system_prompt)
        for c in corrections
    ]
    return jsonl(examples, method)
