"""Training backends side by side in config.toml: what `python -m bot check` says about them, their keys from the
environment only, the single-backend config as the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from bot.finetuning.backends import configured_backends
from bot.finetuning.settings import TrainingSettings
from tests.test_config import TOKEN

ENV = {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-test"}
AZURE = """
[training.backends.azure]
kind = "azure"
base_url = "https://contoso.openai.azure.com/openai/v1/"
key_env = "AZURE_OPENAI_API_KEY"
base_models = ["gpt-4.1-mini-2025-04-14"]
new_jobs_until = "2027-04-01"
prices_per_million_tokens = { "gpt-4.1-mini-2025-04-14" = 5.5 }
"""


def problems_of(path: Path, text: str, env: dict[str, str]) -> list[str]:
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env)
    return info.value.problems


def test_an_azure_backend_beside_openai_gets_its_key_from_the_variable_it_names(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(AZURE)
    loaded = load_config(config, ENV | {"AZURE_OPENAI_API_KEY": "az-secret"})
    backends = configured_backends(loaded.settings.training)
    assert list(backends) == ["openai", "azure"]  # the single-backend [training] config stays the default
    assert backends["openai"].base_models == TrainingSettings().base_models
    assert backends["azure"].prices_per_million_tokens == {"gpt-4.1-mini-2025-04-14": 5.5}
    assert loaded.secrets.training_keys == {"azure": "az-secret"} and "az-secret" not in repr(loaded)


def test_check_names_a_missing_key_an_unknown_kind_and_a_default_that_is_no_backend(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    missing = problems_of(config, AZURE, ENV)
    assert any(p.startswith("AZURE_OPENAI_API_KEY: missing") and "'azure'" in p for p in missing)
    kind = problems_of(config, '[training.backends.tg]\nkind = "together"\nbase_models = ["m"]\n', ENV)
    assert any(p.startswith("training.backends.tg.kind: must be one of 'openai', 'azure', 'local'") for p in kind)
    default = problems_of(config, '[training]\nbackend = "together"\n', ENV)
    assert any(p.startswith("training.backend: 'together' is no backend") for p in default)
    unaddressed = problems_of(config, '[training.backends.az]\nkind = "azure"\nkey_env = "K"\n', ENV | {"K": "k"})
    assert any(p.startswith("training.backends.az.base_url: the azure backend needs its address") for p in unaddressed)
    assert any(p.startswith("training.backends.az.base_models:") for p in unaddressed)
