"""The training service's queue: a finished job's model gets a name clients can send back (OpenAI's
`ft:<base>:<suffix>:<id>`, with only safe characters, whatever was typed), and files live only at generated paths
under the data directory."""

from __future__ import annotations

from pathlib import Path

from bot.training_service.job_queue import Layout, model_name


def test_a_models_name_follows_openais_shape() -> None:
    assert model_name("qwen2.5-1.5b-instruct", "support", "ftjob-abc123") == "ft:qwen2.5-1.5b-instruct:support:abc123"
    assert model_name("qwen2.5-1.5b-instruct", None, "ftjob-abc123") == "ft:qwen2.5-1.5b-instruct::abc123"


def test_unsafe_characters_become_dashes_and_long_parts_are_cut() -> None:
    named = model_name("Qwen/Qwen2.5 1.5B:Instruct", "my bot!:v2", "ftjob-1")
    assert named == "ft:Qwen-Qwen2.5-1.5B-Instruct:my-bot-v2:1"
    assert named.count(":") == 3  # a typed colon can never add a part
    long = model_name("b" * 100, "s" * 100, "ftjob-1")
    assert long == f"ft:{'b' * 64}:{'s' * 64}:1"


def test_every_file_of_a_job_lives_under_the_data_directory(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    paths = [
        layout.database,
        layout.upload("file-1"),
        layout.upload_partial("file-1"),
        layout.work("ftjob-1"),
        layout.adapter("ftjob-1"),
        layout.log("ftjob-1"),
    ]
    assert all(path.is_relative_to(tmp_path) for path in paths)
    assert len(set(paths)) == len(paths)  # nothing overwrites anything else
    assert (
        layout.upload_partial("file-1").name == "file-1.jsonl.part" and layout.upload("file-1").name == "file-1.jsonl"
    )
