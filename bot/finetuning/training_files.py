"""Training files: read JSONL (supervised or DPO) and CSV, check them by OpenAI's fine-tuning rules, count tokens.

The file is streamed line by line and written out as normalised JSONL (what gets uploaded), so a 50 MB upload never
sits whole in memory. Errors are reported as `line N: reason`, the first 20 kept and the rest counted.
"""

from __future__ import annotations

import collections
import concurrent.futures
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

import attrs

from bot.finetuning.tokens import TokenCounter

Kind = Literal["sft", "dpo"]
MAX_ERRORS_SHOWN = 20
ROLES = {"system", "user", "assistant"}
SFT_KEYS = {"messages", "tools", "parallel_tool_calls"}
DPO_KEYS = {"input", "preferred_output", "non_preferred_output"}
# OpenAI's chat format adds a few tokens per message around its content.
TOKENS_PER_MESSAGE = 4
# Token counting happens in batches: tiktoken releases the GIL and uses several threads for a batch.
BATCH = 512


@attrs.frozen
class DatasetReport:
    kind: Kind | None
    examples: int
    total_tokens: int
    billed_tokens_estimate: int
    estimated_cost: float | None
    errors: list[str]
    more_errors: int
    sha256: str

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_summary(self) -> str:
        more = f"\n… and {self.more_errors} more" if self.more_errors else ""
        return "\n".join(self.errors) + more


@attrs.frozen
class DatasetRules:
    min_examples: int = 10
    max_tokens_per_example: int = 65_536
    epochs: int = 3
    price_per_million: float | None = None
    encoding: str = "o200k_base"


class LineProblem(Exception):
    """What is wrong with one line (the message is shown after `line N: `)."""


def _content(value: Any, where: str, *, assistant_only: bool = False) -> tuple[str, str]:
    if not isinstance(value, dict):
        raise LineProblem(f"{where} is not an object")
    message = cast(dict[str, Any], value)
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:  # checked as text first: a list or object is unhashable
        shown = "a list or object" if isinstance(role, list | dict) else json.dumps(role)
        raise LineProblem(f"{where} has role {shown}; expected system, user or assistant")
    if assistant_only and role != "assistant":
        raise LineProblem(f"{where} must have role assistant")
    if "tool_calls" in message or "function_call" in message:
        raise LineProblem(f"{where} uses tool calls, which this bot does not train on")
    content = message.get("content")
    if role == "user" and isinstance(content, list):
        content = _parts_text(cast(list[Any], content), where)
    if not isinstance(content, str):
        raise LineProblem(f"{where} content must be a string")
    if not content.strip():
        raise LineProblem(f"{where} content is empty")
    weight = message.get("weight")
    if weight is not None and (role != "assistant" or weight not in (0, 1)):
        raise LineProblem(f"{where} weight must be 0 or 1, on assistant messages only")
    return str(role), content


def _parts_text(parts: list[Any], where: str) -> str:
    """A user message in OpenAI's image-message format: text and image_url parts. Its text, for counting tokens."""
    texts: list[str] = []
    for i, part in enumerate(parts):
        item = cast(dict[str, Any], part) if isinstance(part, dict) else {}
        kind = item.get("type")
        if kind == "text" and isinstance(item.get("text"), str):
            texts.append(item["text"])
        elif kind == "image_url" and isinstance(item.get("image_url"), dict):
            url = cast(dict[str, Any], item["image_url"]).get("url")
            if not isinstance(url, str) or not url.startswith(("https://", "http://", "data:image/")):
                raise LineProblem(f"{where} content[{i}] image_url must have an http(s) or data:image URL")
        else:
            raise LineProblem(f"{where} content[{i}] must be a text or image_url part")
    return "\n".join(texts)


def _messages(value: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value:
        raise LineProblem(f"{where} must be a non-empty list of messages")
    return [_content(m, f"{where}[{i}]") for i, m in enumerate(cast(list[Any], value))]


def check_example(value: Any) -> tuple[Kind, list[str]]:
    """The example's kind and the texts whose tokens count; raises LineProblem when it breaks a rule."""
    if not isinstance(value, dict):
        raise LineProblem("expected a JSON object")
    obj = cast(dict[str, Any], value)
    keys = set(obj)
    if "messages" in keys:
        unknown = keys - SFT_KEYS
        if unknown:
            raise LineProblem(f"unknown key {sorted(unknown)[0]!r}")
        messages = _messages(obj["messages"], "messages")
        if not any(role == "assistant" for role, _ in messages):
            raise LineProblem("needs at least one assistant message")
        return "sft", [c for _, c in messages]
    if "preferred_output" in keys or "input" in keys:
        unknown = keys - DPO_KEYS
        if unknown:
            raise LineProblem(f"unknown key {sorted(unknown)[0]!r}")
        missing = DPO_KEYS - keys
        if missing:
            raise LineProblem(f"missing {sorted(missing)[0]!r}")
        prompt: Any = obj["input"]
        if not isinstance(prompt, dict):
            raise LineProblem("input must be an object with messages")
        messages = _messages(cast(dict[str, Any], prompt).get("messages"), "input.messages")
        texts = [c for _, c in messages]
        for key in ("preferred_output", "non_preferred_output"):
            output: Any = obj[key]
            if not isinstance(output, list) or len(cast(list[Any], output)) != 1:
                raise LineProblem(f"{key} must hold exactly one assistant message")
            texts.append(_content(cast(list[Any], output)[0], f"{key}[0]", assistant_only=True)[1])
        return "dpo", texts
    raise LineProblem('expected "messages" (supervised) or "input"/"preferred_output" (DPO)')


def jsonl_records(stream: BinaryIO) -> Iterator[tuple[int, Any, bytes | None]]:
    """(line number, parsed object, the line) for each non-blank line; a LineProblem for lines that are not JSON."""
    for number, raw in enumerate(stream, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            yield number, json.loads(line), line
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else exc
            yield number, LineProblem(f"not valid JSON ({reason})"), None
        except RecursionError:
            yield number, LineProblem("the JSON is nested too deeply"), None
        except ValueError:  # e.g. an integer with more digits than Python converts (int_max_str_digits)
            yield number, LineProblem("the JSON holds a number too large to read"), None


def csv_records(stream: BinaryIO) -> Iterator[tuple[int, Any, bytes | None]]:
    """CSV `question,answer[,rejected]` rows as training objects; line numbers are the file's (quoted newlines too)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from _csv_rows(text)
    finally:
        text.detach()  # the caller owns (and closes) the binary stream


def _csv_rows(text: io.TextIOWrapper) -> Iterator[tuple[int, Any, bytes | None]]:
    reader = csv.reader(text)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except (csv.Error, UnicodeDecodeError) as exc:
        yield 1, LineProblem(f"not readable as CSV ({exc})"), None
        return
    if header not in (["question", "answer"], ["question", "answer", "rejected"]):
        yield 1, LineProblem("the header must be question,answer or question,answer,rejected"), None
        return
    start = reader.line_num + 1
    try:
        for row in reader:
            number, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield number, LineProblem(f"expected {len(header)} fields, got {len(row)}"), None
                continue
            question, answer = row[0], row[1]
            user = {"role": "user", "content": question}
            if len(header) == 2:
                yield number, {"messages": [user, {"role": "assistant", "content": answer}]}, None
            else:
                yield (
                    number,
                    {
                        "input": {"messages": [user]},
                        "preferred_output": [{"role": "assistant", "content": answer}],
                        "non_preferred_output": [{"role": "assistant", "content": row[2]}],
                    },
                    None,
                )
    except (csv.Error, UnicodeDecodeError) as exc:
        yield start, LineProblem(f"not readable as CSV ({exc})"), None


class _Report:
    """Accumulates the verdict while lines stream past."""

    def __init__(self, rules: DatasetRules, counter: TokenCounter) -> None:
        self.rules = rules
        self.counter = counter
        self.in_flight: collections.deque[tuple[list[tuple[int, int]], concurrent.futures.Future[list[int]]]] = (
            collections.deque()
        )
        self.kind: Kind | None = None
        self.examples = 0
        self.tokens = 0
        self.errors: list[str] = []
        self.more = 0
        self.pending: list[tuple[int, list[str]]] = []

    def error(self, number: int, reason: str) -> None:
        if len(self.errors) < MAX_ERRORS_SHOWN:
            self.errors.append(f"line {number}: {reason}")
        else:
            self.more += 1

    def count(self, number: int, texts: list[str]) -> None:
        self.pending.append((number, texts))
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self, *, wait: bool = False) -> None:
        if self.pending:
            flat = [t for _, texts in self.pending for t in texts]
            shape = [(number, len(texts)) for number, texts in self.pending]
            self.in_flight.append((shape, self.counter.submit(flat)))
            self.pending = []
        # Keep a few batches in flight so counting overlaps with reading; collect finished ones in order.
        while self.in_flight and (wait or len(self.in_flight) > 4 or self.in_flight[0][1].done()):
            shape, future = self.in_flight.popleft()
            lengths = iter(future.result())
            for number, n_texts in shape:
                tokens = sum(next(lengths) + TOKENS_PER_MESSAGE for _ in range(n_texts))
                if tokens > self.rules.max_tokens_per_example:
                    limit = self.rules.max_tokens_per_example
                    self.error(number, f"{tokens:,} tokens; the limit per example is {limit:,}")
                self.tokens += tokens


def validate(
    source: BinaryIO,
    fmt: Literal["jsonl", "csv"],
    rules: DatasetRules,
    out: BinaryIO | None = None,
    counter: TokenCounter | None = None,
) -> DatasetReport:
    """Check every line; write the valid dataset as JSONL to `out` (when given). Blocking: run it in a thread."""
    own = counter is None
    counter = counter or TokenCounter(rules.encoding, workers=1)
    try:
        return _validate(source, fmt, rules, out, counter)
    finally:
        if own:
            counter.close()


def _validate(
    source: BinaryIO, fmt: Literal["jsonl", "csv"], rules: DatasetRules, out: BinaryIO | None, counter: TokenCounter
) -> DatasetReport:
    report = _Report(rules, counter)
    digest = hashlib.sha256()
    records = csv_records(source) if fmt == "csv" else jsonl_records(source)
    for number, obj, raw in records:
        if isinstance(obj, LineProblem):
            report.error(number, str(obj))
            continue
        try:
            kind, texts = check_example(obj)
        except LineProblem as problem:
            report.error(number, str(problem))
            continue
        if report.kind is None:
            report.kind = kind
        elif kind != report.kind:
            names = {"sft": "supervised", "dpo": "preference (DPO)"}
            report.error(number, f"a {names[kind]} example in a {names[report.kind]} file; use one kind per file")
            continue
        report.examples += 1
        report.count(number, texts)
        if out is not None:
            # A JSONL line is copied as it came; CSV rows are written as the JSON objects they became.
            line = (raw if raw is not None else json.dumps(obj, ensure_ascii=False).encode()) + b"\n"
            digest.update(line)
            out.write(line)
    report.flush(wait=True)
    if report.examples < rules.min_examples and not report.errors:
        report.errors.append(f"the file has {report.examples} valid examples; at least {rules.min_examples} are needed")
    billed = report.tokens * rules.epochs
    cost = None if rules.price_per_million is None else round(billed / 1_000_000 * rules.price_per_million, 2)
    return DatasetReport(
        kind=report.kind,
        examples=report.examples,
        total_tokens=report.tokens,
        billed_tokens_estimate=billed,
        estimated_cost=cost,
        errors=report.errors,
        more_errors=report.more,
        sha256=digest.hexdigest(),
    )


def validate_path(
    source: Path,
    fmt: Literal["jsonl", "csv"],
    rules: DatasetRules,
    out_path: Path | None = None,
    counter: TokenCounter | None = None,
) -> DatasetReport:
    with open(source, "rb") as src:
        if out_path is None:
            return validate(src, fmt, rules, counter=counter)
        with open(out_path, "wb") as out:
            return validate(src, fmt, rules, out, counter)
