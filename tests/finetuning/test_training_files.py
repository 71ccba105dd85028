"""Dataset checks: what an admin is told about a training file, line by line."""

from __future__ import annotations

import io
import json
from typing import Any

from bot.finetuning.builder import CorrectionExample, jsonl
from bot.finetuning.training_files import DatasetRules, validate

RULES = DatasetRules(min_examples=2, price_per_million=5.0)


def sft(q: str = "What is 2+2?", a: str = "4") -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def dpo(q: str = "Capital?", good: str = "Canberra", bad: str = "Sydney") -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": q}]},
        "preferred_output": [{"role": "assistant", "content": good}],
        "non_preferred_output": [{"role": "assistant", "content": bad}],
    }


def lines(*items: Any) -> io.BytesIO:
    return io.BytesIO(b"".join((i if isinstance(i, bytes) else json.dumps(i).encode()) + b"\n" for i in items))


def test_a_good_supervised_file_is_counted_and_priced_and_written_out() -> None:
    out = io.BytesIO()
    report = validate(lines(sft(), b"", sft("Hello", "Hi there!")), "jsonl", RULES, out)
    assert report.ok and report.kind == "sft" and report.examples == 2
    assert report.total_tokens > 8
    assert report.billed_tokens_estimate == report.total_tokens * 3
    assert report.estimated_cost == round(report.billed_tokens_estimate / 1e6 * 5.0, 2)
    assert [json.loads(x) for x in out.getvalue().splitlines()] == [sft(), sft("Hello", "Hi there!")]


def test_each_malformed_line_is_reported_with_its_number() -> None:
    report = validate(
        lines(
            sft(),
            b"{not json",
            {"messages": [{"role": "user", "content": "no answer"}]},
            {"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]},
            {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "y"}]},
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]},
            dpo(),
            [1, 2],
            {"prompt": "old format", "completion": "x"},
        ),
        "jsonl",
        RULES,
    )
    assert report.errors == [
        "line 2: not valid JSON (Expecting property name enclosed in double quotes)",
        "line 3: needs at least one assistant message",
        'line 4: messages[0] has role "wizard"; expected system, user or assistant',
        "line 5: messages[0] content must be a string",
        "line 6: messages[1] content is empty",
        "line 7: a preference (DPO) example in a supervised file; use one kind per file",
        "line 8: expected a JSON object",
        'line 9: expected "messages" (supervised) or "input"/"preferred_output" (DPO)',
    ]


def test_too_few_examples_and_too_many_tokens() -> None:
    few = validate(lines(sft()), "jsonl", RULES)
    assert few.errors == ["the file has 1 valid examples; at least 2 are needed"]
    long = validate(
        lines(sft(), sft(a="word " * 200)), "jsonl", DatasetRules(min_examples=1, max_tokens_per_example=50)
    )
    assert (
        len(long.errors) == 1 and long.errors[0].startswith("line 2: ") and "limit per example is 50" in long.errors[0]
    )


def test_only_the_first_twenty_errors_are_listed_and_the_rest_counted() -> None:
    report = validate(lines(*([b"oops"] * 25)), "jsonl", RULES)
    assert len(report.errors) == 20 and report.more_errors == 5
    assert report.error_summary().endswith("… and 5 more")


def test_csv_files_become_supervised_or_preference_examples_with_file_line_numbers() -> None:
    good = io.BytesIO(b'question,answer\n"Multi\nline question",Yes\nSecond,No\n')
    out = io.BytesIO()
    report = validate(good, "csv", RULES, out)
    assert report.ok and report.kind == "sft" and report.examples == 2
    assert json.loads(out.getvalue().splitlines()[0])["messages"][0]["content"] == "Multi\nline question"
    pairs = validate(io.BytesIO(b"question,answer,rejected\nq1,good,bad\nq2,good,bad\n"), "csv", RULES)
    assert pairs.ok and pairs.kind == "dpo"
    bad_header = validate(io.BytesIO(b"q,a\nx,y\n"), "csv", RULES)
    assert bad_header.errors == ["line 1: the header must be question,answer or question,answer,rejected"]
    missing = validate(io.BytesIO(b'question,answer\n"two\nlines",ok\nonly one field\n'), "csv", RULES)
    assert missing.errors[0] == "line 4: expected 2 fields, got 1"


def test_every_exported_correction_line_passes_the_rules() -> None:
    examples = [CorrectionExample(f"q{i}", "wrong", f"right {i}", "Be brief.") for i in range(3)]
    for method in ("sft", "dpo"):
        report = validate(io.BytesIO(jsonl(examples, method)), "jsonl", RULES)
        assert report.ok and report.kind == method and report.examples == 3


class CountingReader(io.RawIOBase):
    """A file that records the largest single read, to show the validator streams."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.largest = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(min(len(buffer), 64 * 1024))
        self.largest = max(self.largest, len(chunk))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_validation_streams_instead_of_reading_the_whole_file() -> None:
    data = lines(*[sft(f"question {i}", "answer " * 20) for i in range(5000)]).getvalue()
    reader = CountingReader(data)
    report = validate(io.BufferedReader(reader), "jsonl", RULES)
    assert report.examples == 5000
    assert len(data) > 1_000_000 and reader.largest <= 64 * 1024


def test_deeply_nested_json_and_huge_integers_are_bad_lines_not_crashes() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    huge = b'{"messages": [], "n": ' + b"9" * 5000 + b"}"
    report = validate(lines(sft(), deep, huge, sft("Hello", "Hi")), "jsonl", RULES, io.BytesIO())
    assert not report.ok
    assert report.errors == [
        "line 2: the JSON is nested too deeply",
        "line 3: the JSON holds a number too large to read",
    ]
    assert report.examples == 2
