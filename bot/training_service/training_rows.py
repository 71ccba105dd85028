"""Training files in OpenAI's formats, checked line by line and turned into the rows TRL trains on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from bot.finetuning.training_files import LineProblem, check_example, jsonl_records

MAX_ERRORS_SHOWN = 5
KIND_OF_METHOD = {"supervised": "sft", "dpo": "dpo"}


class DatasetProblem(Exception):
    """The training file cannot be trained on; the message says which lines and why."""


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) per non-blank line; a LineProblem for a line that cannot be read as JSON (not
    JSON, nested too deeply, a number with too many digits), so one such line never stops the whole check."""
    with path.open("rb") as f:
        for number, value, _ in jsonl_records(f):
            yield number, value


def _check_kind(kind: str, want: str, method: str) -> None:
    if kind != want:
        expected = '"messages"' if want == "sft" else '"input", "preferred_output", "non_preferred_output"'
        raise LineProblem(f"is a {kind.upper()} example, but this is a {method} job (expected {expected})")


def _kind(value: Any) -> str:
    """The example's kind. A value the checker cannot handle is that line's problem, never the whole file's."""
    try:
        return check_example(value)[0]
    except LineProblem:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        raise LineProblem(f"is not a valid example ({type(exc).__name__})") from exc


def check_file(path: Path, method: str) -> int:
    """The number of examples; raises DatasetProblem naming the first bad lines. Blocking: run it in a thread."""
    want = KIND_OF_METHOD[method]
    errors: list[str] = []
    more = examples = 0
    for number, value in _lines(path):
        try:
            if isinstance(value, LineProblem):
                raise value
            _check_kind(_kind(value), want, method)
            examples += 1
        except LineProblem as exc:
            if len(errors) < MAX_ERRORS_SHOWN:
                errors.append(f"line {number}: {exc}")
            else:
                more += 1
    if errors:
        tail = f" (and {more} more)" if more else ""
        raise DatasetProblem("The training file has invalid lines: " + "; ".join(errors) + tail + ".")
    if not examples:
        raise DatasetProblem("The training file has no examples.")
    return examples


def _message(value: Any) -> dict[str, str]:
    message = cast(dict[str, Any], value)
    return {"role": str(message["role"]), "content": str(message["content"])}


def trl_rows(path: Path, method: str) -> list[dict[str, Any]]:
    """Conversational rows: SFT `messages`; DPO `prompt` / `chosen` / `rejected` (TRL's preference format)."""
    rows: list[dict[str, Any]] = []
    for _, value in _lines(path):
        obj = cast(dict[str, Any], value)
        if method == "supervised":
            rows.append({"messages": [_message(m) for m in obj["messages"]]})
        else:
            rows.append(
                {
                    "prompt": [_message(m) for m in obj["input"]["messages"]],
                    "chosen": [_message(obj["preferred_output"][0])],
                    "rejected": [_message(obj["non_preferred_output"][0])],
                }
            )
    return rows
