"""The training service's settings: safe defaults without a file, every problem in trainer.toml named at once, and
its secrets only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.training_service.config import TrainerConfigError, load_config, parse_settings


def test_without_a_settings_file_the_service_runs_on_loopback_with_its_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "absent.toml", env={})
    settings = config.settings
    assert (settings.host, settings.port, settings.loopback_only) == ("127.0.0.1", 8600, True)
    assert (settings.concurrency, settings.device, settings.epochs, settings.batch_size) == (1, "auto", 3, 4)
    assert settings.publish.vllm_url == "" and settings.publish.served_dir == ""
    assert (config.api_key, config.vllm_api_key) == (None, None)


def test_the_settings_file_is_found_through_trainer_config(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('[trainer]\nport = 9000\nbase_models = { "tiny" = "/models/tiny" }\n')
    settings = load_config(env={"TRAINER_CONFIG": str(path)}).settings
    assert settings.port == 9000 and settings.base_models == {"tiny": "/models/tiny"}


def test_secrets_come_from_the_environment_and_never_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "trainer.toml"
    path.write_text('[trainer]\nhost = "0.0.0.0"\n')
    config = load_config(path, env={"TRAINER_API_KEY": "k1", "VLLM_API_KEY": "k2"})
    assert (config.api_key, config.vllm_api_key) == ("k1", "k2")
    assert load_config(path, env={"TRAINER_API_KEY": "k1", "VLLM_API_KEY": ""}).vllm_api_key is None
    path.write_text('[trainer]\napi_key = "in-the-file"\n')
    with pytest.raises(TrainerConfigError, match=r"^trainer\.api_key: unknown setting$"):
        load_config(path, env={})


def test_listening_on_localhost_by_name_counts_as_loopback(tmp_path: Path) -> None:
    path = tmp_path / "trainer.toml"
    path.write_text('[trainer]\nhost = "localhost"\n')
    assert load_config(path, env={}).api_key is None
    path.write_text('[trainer]\nhost = "trainer.internal"\n')
    with pytest.raises(
        TrainerConfigError, match=r"TRAINER_API_KEY must be set: the service listens on trainer\.internal"
    ):
        load_config(path, env={})


def test_every_problem_is_named_one_per_line() -> None:
    with pytest.raises(TrainerConfigError) as problems:
        parse_settings({"training": {}, "trainer": {"port": -1, "epochs": 0}})
    lines = str(problems.value).splitlines()
    assert lines[0] == "training: unknown section (expected [trainer])"
    assert any(line.startswith("trainer.port: ") for line in lines)
    assert any(line.startswith("trainer.epochs: ") for line in lines)
    assert len(lines) == 3


def test_publishing_to_vllm_and_to_a_served_directory_at_once_is_refused() -> None:
    with pytest.raises(TrainerConfigError, match=r"set vllm_url or served_dir, not both"):
        parse_settings({"trainer": {"publish": {"vllm_url": "http://127.0.0.1:8000", "served_dir": "/srv/models"}}})


def test_an_unreadable_settings_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "trainer.toml"
    path.write_text("[trainer\n")
    with pytest.raises(TrainerConfigError, match=r"trainer\.toml: cannot be read"):
        load_config(path, env={})


def test_a_device_the_service_cannot_use_is_named_plainly() -> None:
    """Fails today: attrs' `in_` validator's ValueError carries the whole Attribute, shown raw to the operator."""
    with pytest.raises(TrainerConfigError) as problem:
        parse_settings({"trainer": {"device": "tpu"}})
    assert "Attribute(" not in str(problem.value) and "tpu" in str(problem.value)
