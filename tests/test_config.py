from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import load_config
from bot.errors import ConfigError
from bot.llm.retirements import shutdown_of

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


def test_shards_default_to_one_process_with_discords_count() -> None:
    discord = load_config(ROOT / "config.toml", {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "k"}).settings.discord
    assert (discord.shard_count, discord.shard_ids) == (None, None)


def test_shard_settings_come_from_config_and_the_environment_overrides_them(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[discord]\nshard_count = 4\nshard_ids = [0, 1]\n")
    env = {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "k"}
    discord = load_config(config, env).settings.discord
    assert (discord.shard_count, discord.shard_ids) == (4, [0, 1])
    discord = load_config(config, env | {"SHARD_IDS": "2-3"}).settings.discord
    assert (discord.shard_count, discord.shard_ids) == (4, [2, 3])
    discord = load_config(config, env | {"SHARD_COUNT": "8", "SHARD_IDS": "0, 5-7"}).settings.discord
    assert (discord.shard_count, discord.shard_ids) == (8, [0, 5, 6, 7])


@pytest.mark.parametrize(
    ("toml", "env", "expected"),
    [
        ("shard_count = 2\nshard_ids = [0, 0]\n", {}, "discord.shard_ids: each shard id may be named once"),
        ("shard_count = 2\nshard_ids = [2]\n", {}, "discord.shard_ids: [2] outside 0..1"),
        ("shard_count = 2\nshard_ids = [-1]\n", {}, "discord.shard_ids: [-1] outside 0..1"),
        ("shard_ids = [0]\n", {}, "discord.shard_ids: shard ids need a shard count"),
        ("shard_count = 0\n", {}, "discord.shard_count: shard_count must be greater than 0"),
        ("", {"SHARD_IDS": "1"}, "SHARD_IDS: shard ids need a shard count"),
        ("", {"SHARD_COUNT": "two"}, "SHARD_COUNT: expected a whole number of shards"),
        ("", {"SHARD_COUNT": "0"}, "SHARD_COUNT: expected a whole number of shards"),
        ("shard_count = 4\n", {"SHARD_IDS": "1,x"}, "SHARD_IDS: 'x' is not a shard id"),
        ("shard_count = 4\n", {"SHARD_IDS": "3-1"}, "SHARD_IDS: the range '3-1' runs backwards"),
        ("", {"SHARD_COUNT": "2", "SHARD_IDS": "1-2"}, "SHARD_IDS: [2] outside 0..1 (SHARD_COUNT is 2)"),
    ],
)
def test_check_names_a_wrong_shard_setting_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    toml: str,
    env: dict[str, str],
    expected: str,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[discord]\n{toml}")
    for name in ("SHARD_COUNT", "SHARD_IDS", "TEACHBOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env | {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "k"}).items():
        monkeypatch.setenv(name, value)
    assert main(["check", "--config", str(config)]) == 2
    problems = [line for line in capsys.readouterr().err.splitlines() if line.startswith("  - ")]
    assert len(problems) == 1 and expected in problems[0], problems


def test_training_epochs_outside_what_the_backends_train_are_refused_at_start(tmp_path: Path) -> None:
    # OpenAI (and the training service) refuse n_epochs outside 1-50 only once the dataset is uploaded: say it first.
    local = tmp_path / "config.toml"
    env = {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-test"}
    for epochs in (0, 51):
        local.write_text(f"[training]\nepochs = {epochs}\n")
        with pytest.raises(ConfigError) as info:
            load_config(local, env)
        assert [p for p in info.value.problems if p.startswith("training.epochs: epochs must be from 1 to 50")]
    for epochs in (1, 50):
        local.write_text(f"[training]\nepochs = {epochs}\n")
        assert load_config(local, env).settings.training.epochs == epochs


def test_the_cost_ceilings_of_model_tests_and_early_voice_answers_are_configured_and_checked(tmp_path: Path) -> None:
    env = {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-test"}
    committed = load_config(ROOT / "config.toml", env).settings
    assert (committed.testing.max_running, committed.testing.budget_calls, committed.testing.budget_window_h) == (
        2,
        2000,
        24.0,
    )
    assert committed.conversation.early_answers_per_utterance == 2
    bad = tmp_path / "config.toml"
    bad.write_text(
        '[testing]\nmax_running = 0\nbudget_calls = "lots"\nbudget_window_h = -1\nmax_run_s = 0\n'
        "[conversation]\nearly_answers_per_utterance = -1\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(bad, env)
    text = "\n".join(info.value.problems)
    for name in ("max_running", "budget_calls", "budget_window_h", "max_run_s", "early_answers_per_utterance"):
        assert name in text


def test_committed_config_names_no_chat_judge_vision_or_speech_model_on_a_shutdown_list() -> None:
    settings = load_config(ROOT / "config.toml", {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "k"}).settings
    llm = settings.llm
    named = [llm.default_model, settings.testing.judge_model, *llm.models, *llm.vision_models]
    assert [m for m in named if shutdown_of(m, llm.shutdowns) is not None] == []
    assert settings.speech.engine != "openai"  # OpenAI's /audio/speech models all shut down 2027-01-06
    assert shutdown_of(settings.speech.openai_model, llm.shutdowns) is not None  # ...which check says, if chosen


def test_check_says_how_many_days_openai_training_has_left_and_which_configured_models_shut_down(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    config = tmp_path / "config.toml"
    config.write_text('[llm]\ndefault_model = "gpt-4o-mini"\n[training]\nopenai_new_jobs_until = "2027-01-06"\n')
    closes = dt.datetime(2027, 1, 6, 12, tzinfo=dt.UTC)
    assert main(["check", "--config", str(config)], clock=lambda: closes - dt.timedelta(days=5)) == 0
    out = capsys.readouterr().out
    assert "5 days left to train there" in out
    assert "llm.default_model: `gpt-4o-mini` shuts down on 2027-01-14 (13 days left)" in out
    assert main(["check", "--config", str(config)], clock=lambda: closes) == 0
    out = capsys.readouterr().out
    assert "/train refuses" in out and "days left to train" not in out
