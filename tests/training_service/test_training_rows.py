"""The training service reads a job's file line by line: it counts the examples, names the first bad lines by their
line number, refuses examples of the other method, and hands TRL its conversational rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.training_service.training_rows import DatasetProblem, check_file, trl_rows

SFT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
DPO = {
    "input": {"messages": [{"role": "user", "content": "hi"}]},
    "preferred_output": [{"role": "assistant", "content": "good"}],
    "non_preferred_output": [{"role": "assistant", "content": "bad"}],
}


def training_file(tmp_path: Path, *lines: Any) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def test_examples_are_counted_and_blank_lines_skipped(tmp_path: Path) -> None:
    assert check_file(training_file(tmp_path, SFT, "", SFT, "  "), "supervised") == 2
    assert check_file(training_file(tmp_path, DPO), "dpo") == 1


def test_bad_lines_are_named_by_their_line_in_the_file(tmp_path: Path) -> None:
    path = training_file(tmp_path, SFT, "", "{not json", [1], {"messages": []})
    with pytest.raises(DatasetProblem) as problem:
        check_file(path, "supervised")
    message = str(problem.value)
    assert message.startswith("The training file has invalid lines: line 3: not valid JSON")
    assert "; line 4: expected a JSON object; line 5: messages must be a non-empty list" in message
    assert "line 1" not in message


def test_an_example_of_the_other_method_says_what_the_job_expects(tmp_path: Path) -> None:
    with pytest.raises(
        DatasetProblem, match=r'line 1: is a DPO example, but this is a supervised job \(expected "messages"\)'
    ):
        check_file(training_file(tmp_path, DPO), "supervised")
    with pytest.raises(DatasetProblem, match=r'line 1: is a SFT example, but this is a dpo job \(expected "input", '):
        check_file(training_file(tmp_path, SFT), "dpo")


def test_only_the_first_five_bad_lines_are_listed_with_how_many_more(tmp_path: Path) -> None:
    with pytest.raises(DatasetProblem) as problem:
        check_file(training_file(tmp_path, *["x"] * 8), "supervised")
    message = str(problem.value)
    assert "line 5:" in message and "line 6:" not in message
    assert message.endswith(" (and 3 more).")


def test_a_file_with_no_examples_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetProblem, match=r"^The training file has no examples\.$"):
        check_file(training_file(tmp_path, ""), "supervised")


def test_rows_for_trl_are_conversations_and_preference_triples(tmp_path: Path) -> None:
    assert trl_rows(training_file(tmp_path, SFT), "supervised") == [{"messages": SFT["messages"]}]
    assert trl_rows(training_file(tmp_path, DPO), "dpo") == [
        {
            "prompt": [{"role": "user", "content": "hi"}],
            "chosen": [{"role": "assistant", "content": "good"}],
            "rejected": [{"role": "assistant", "content": "bad"}],
        }
    ]
