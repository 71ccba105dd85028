"""Training lines from corrections, in OpenAI's fine-tuning formats (supervised and DPO preference pairs)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs

from bot.finetuning.trainer import Method
from bot.store.corrections import Correction


@attrs.frozen
class CorrectionExample:
    question: str
    original_answer: str
    corrected_answer: str
    system_prompt: str | None = None
    images: tuple[str, ...] = ()  # URLs of the pictures sent with the question


def _prompt(example: CorrectionExample) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = (
        [{"role": "system", "content": example.system_prompt}] if example.system_prompt else []
    )
    if not example.images:
        return [*messages, {"role": "user", "content": example.question}]
    # OpenAI's image-message format: the user's content is a list of parts, the text and then each picture.
    parts: list[dict[str, Any]] = [{"type": "text", "text": example.question}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in example.images]
    return [*messages, {"role": "user", "content": parts}]


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


def corrections_dataset(corrections: Iterable[Correction], method: Method, default_system_prompt: str | None) -> bytes:
    """Corrections as training lines (the one step shared by /train and /corrections export): the persona the answer
    was given as the system message, the question as the user meant it (with its pictures), the bot's answer as the
    rejected one, the correction as the preferred one. So a model is trained with the prompt it will be used with.
    Answers from before personas were recorded fall back to `default_system_prompt`."""
    examples = [
        CorrectionExample(
            c.question_for_training,
            c.original_answer,
            c.corrected_answer,
            default_system_prompt if c.system_prompt is None else c.system_prompt,
            tuple(i.url for i in c.images),
        )
        for c in corrections
        # An endorsement (an answer voted 👍, kept as given) has no worse answer to prefer it over.
        if method == "sft" or c.kind == "correction"
    ]
    return jsonl(examples, method)
