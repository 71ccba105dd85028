from __future__ import annotations

import base64
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import load_config
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
TOKEN = base64.b64encode(b"123456789012345678").decode() + ".abc.def"


def test_committed_config_loads_with_secrets_from_env() -> None:
    config = load_config(ROOT / "config.toml", {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-test"})
    assert config.settings.llm.default_model
    assert "sk-test" not in repr(config) and TOKEN not in repr(config)


def test_every_problem_is_named_in_one_run(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text('[llm]\nmax_answer_tokens = 0\nedit_interval_s = "fast"\n[discord]\nchat_channels = ["x"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(bad, {})
    text = "\n".join(info.value.problems)
    for expected in ("DISCORD_TOKEN", "OPENAI_API_KEY", "max_answer_tokens", "llm.edit_interval_s", "chat_channels[0]"):
        assert expected in text


def test_local_server_needs_no_api_key() -> None:
    config = load_config(ROOT / "config.toml", {"DISCORD_TOKEN": TOKEN, "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"})
    assert config.secrets.openai_base_url == "http://127.0.0.1:1/v1"


def test_check_command_with_empty_environment_lists_missing_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DISCORD_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL", "DATABASE_URL", "TEACHBOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN: missing" in err and "OPENAI_API_KEY: missing" in err
    assert "Traceback" not in err
    assert main([]) == 2  # running without a token gives the same message, not a traceback
    assert "DISCORD_TOKEN: missing" in capsys.readouterr().err


def test_discord_rest_url_is_optional_and_must_be_http(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[discord]\nrest_url = "discord.example/api"\n')
    with pytest.raises(ConfigError) as info:
        load_config(config, {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "k"})
    assert any("discord.rest_url" in p and "http://" in p for p in info.value.problems)
    assert (
        load_config(ROOT / "config.toml", {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "k"}).settings.discord.rest_url
        is None
    )


def test_the_local_training_backend_needs_the_services_address(tmp_path: Path) -> None:
    local = tmp_path / "config.toml"
    local.write_text('[training]\nbackend = "local"\n')
    with pytest.raises(ConfigError) as info:
        load_config(local, {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-test"})
    assert any("training.base_url" in p for p in info.value.problems)
    local.write_text('[training]\nbackend = "local"\nbase_url = "http://127.0.0.1:8090/v1"\n')
    env = {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-test", "TRAINING_API_KEY": "tk-secret"}
    config = load_config(local, env)
    assert config.secrets.training_api_key == "tk-secret" and "tk-secret" not in repr(config)


def test_a_watch_lease_no_longer_than_the_watch_interval_is_refused(tmp_path: Path) -> None:
    local = tmp_path / "config.toml"
    local.write_text("[training]\nwatch_interval_s = 60.0\nwatch_lease_s = 60.0\n")
    env = {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-test"}
    with pytest.raises(ConfigError) as info:
        load_config(local, env)
    assert [p for p in info.value.problems if p.startswith("training.watch_lease_s")]
    local.write_text("[training]\nwatch_interval_s = 60.0\nwatch_lease_s = 240.0\n")
    assert load_config(local, env).settings.training.watch_lease_s == 240.0
