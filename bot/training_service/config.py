"""The training service's settings: structure and defaults from trainer.toml, secrets only from the environment."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from bot.config_tables import SettingsProblems, build_settings, non_negative, positive

DEFAULT_CONFIG_PATH = Path("trainer.toml")
CONFIG_PATH_ENV = "TRAINER_CONFIG"
API_KEY_ENV = "TRAINER_API_KEY"
VLLM_API_KEY_ENV = "VLLM_API_KEY"


class TrainerConfigError(Exception):
    """The settings are missing or invalid; the message names every problem, one per line."""


@attrs.frozen
class PublishSettings:
    """Where finished adapters are served: a vLLM server started with --enable-lora and runtime LoRA updating (GPU),
    or, without a GPU, merged whole models in `served_dir` for `transformers serve` started in that directory."""

    # Base URL of the inference server (e.g. "http://127.0.0.1:8000"); empty: adapters are only written to disk.
    vllm_url: str = ""
    # The service's adapter directory as the vLLM server sees it (another container, a shared volume); empty:
    # the same path as here.
    adapter_dir_for_vllm: str = ""
    # How often the served adapters are checked, and missing ones (vLLM restarted) loaded again.
    sync_interval_s: float = attrs.field(default=60.0, validator=positive)
    request_timeout_s: float = attrs.field(default=120.0, validator=positive)
    # No GPU: each finished adapter is merged into its base and written to `served_dir/<model name>`; an
    # OpenAI-compatible server started in that directory (`transformers serve`) answers to the model name. Empty: off.
    served_dir: str = ""
    # A merge (a subprocess loading the whole model) that takes longer is given up and retried at the next sync.
    merge_timeout_s: float = attrs.field(default=1800.0, validator=positive)


@attrs.frozen
class TrainerSettings:
    """One GPU (or the CPU), one job at a time by default. Base models are configuration."""

    host: str = "127.0.0.1"
    port: int = attrs.field(default=8600, validator=non_negative)
    # Without an API key, only requests naming this machine's loopback (Host: localhost, 127.0.0.1, [::1]) or one of
    # these names are answered, so a web page cannot reach the service through DNS rebinding. With a key: unused.
    allowed_hosts: tuple[str, ...] = ()
    # Uploads, the job database, adapters and per-job logs live here.
    data_dir: str = "data/trainer"
    # The model name clients send -> a Hugging Face hub id or a local directory with the model and tokenizer.
    base_models: dict[str, str] = attrs.field(factory=lambda: {"qwen2.5-1.5b-instruct": "Qwen/Qwen2.5-1.5B-Instruct"})
    # Jobs trained at the same time (one per GPU); the rest wait in the queue.
    concurrency: int = attrs.field(default=1, validator=positive)
    max_upload_mb: float = attrs.field(default=512.0, validator=positive)
    # "auto" (CUDA when available) or "cpu".
    device: str = attrs.field(default="auto", validator=attrs.validators.in_(["auto", "cpu", "cuda"]))
    # CPU threads for training on the CPU (0: torch's default, one per core). On a CPU shared with other work, 1
    # avoids threads waiting on each other at every operation.
    cpu_threads: int = attrs.field(default=0, validator=non_negative)
    # Defaults for hyperparameters a job leaves at "auto"; learning_rate_multiplier scales learning_rate.
    learning_rate: float = attrs.field(default=2e-4, validator=positive)
    epochs: int = attrs.field(default=3, validator=positive)
    batch_size: int = attrs.field(default=4, validator=positive)
    dpo_beta: float = attrs.field(default=0.1, validator=positive)
    lora_rank: int = attrs.field(default=16, validator=positive)
    lora_alpha: int = attrs.field(default=32, validator=positive)
    lora_dropout: float = attrs.field(default=0.05, validator=non_negative)
    # Examples are cut to this many tokens.
    max_length: int = attrs.field(default=2048, validator=positive)
    seed: int = 42
    # A cancelled job's process gets this long to stop after SIGTERM before it is killed.
    cancel_grace_s: float = attrs.field(default=5.0, validator=positive)
    publish: PublishSettings = attrs.field(factory=PublishSettings)

    @property
    def loopback_only(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"


@attrs.frozen
class TrainerConfig:
    settings: TrainerSettings
    api_key: str | None  # required unless the service listens on loopback only
    vllm_api_key: str | None


def parse_settings(data: Mapping[str, Any]) -> TrainerSettings:
    """`[trainer]` (and `[trainer.publish]`) from a parsed TOML document."""
    unknown = sorted(set(data) - {"trainer"})
    problems = [f"{key}: unknown section (expected [trainer])" for key in unknown]
    try:
        settings = build_settings(TrainerSettings, data.get("trainer", {}), "trainer")
    except SettingsProblems as exc:
        problems.extend(exc.problems)
        settings = None
    if settings is not None and settings.publish.vllm_url and settings.publish.served_dir:
        problems.append(
            "trainer.publish: set vllm_url or served_dir, not both (one inference server serves the models)"
        )
    if problems or settings is None:
        raise TrainerConfigError("\n".join(problems))
    return settings


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> TrainerConfig:
    """Read the settings file (TRAINER_CONFIG or ./trainer.toml; defaults when absent) and the secrets."""
    env = os.environ if env is None else env
    path = path or Path(env.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_PATH)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TrainerConfigError(f"{path}: cannot be read ({exc})") from exc
    settings = parse_settings(data)
    api_key = env.get(API_KEY_ENV) or None
    if api_key is None and not settings.loopback_only:
        raise TrainerConfigError(
            f"{API_KEY_ENV} must be set: the service listens on {settings.host}, not only on loopback"
        )
    return TrainerConfig(settings, api_key, env.get(VLLM_API_KEY_ENV) or None)
