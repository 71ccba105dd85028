"""Training settings: base models, prices, dataset rules and how often jobs are checked."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import attrs

from bot.config_tables import http_url, non_negative, positive

# The epochs both backends train: OpenAI refuses n_epochs outside 1-50, and the training service keeps to the same.
EPOCHS = (1, 50)


def _epochs(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    """attrs validator: checked at start-up, so a job is never refused for it after its dataset was uploaded."""
    low, high = EPOCHS
    if not low <= value <= high:
        raise ValueError(
            f"{attribute.name} must be from {low} to {high} (what the training backends accept), got {value}"
        )


def iso_date(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    """attrs validator: a date written YYYY-MM-DD."""
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{attribute.name} must be a date like 2027-01-06, got {value!r}") from None


BackendKind = Literal["openai", "azure", "local"]


@attrs.frozen
class BackendSettings:
    """One `[training.backends.<name>]` table: a place jobs can run, beside the others. Its key is read from the
    environment variable it names (never from this file)."""

    # "openai": OpenAI's fine-tuning (or any server speaking its API); "azure": Azure OpenAI's v1 API (the same client,
    # base_url https://RESOURCE.openai.azure.com/openai/v1/); "local": this project's training service.
    kind: BackendKind
    base_url: str | None = attrs.field(default=None, validator=http_url)
    # The environment variable holding this backend's key (None: the chat endpoint's key for "openai" without a
    # base_url; no key for a training service on loopback).
    key_env: str | None = None
    base_models: list[str] = attrs.field(factory=list[str])
    default_base_model: str | None = None  # None: the first of base_models
    # The day this backend takes no new jobs, YYYY-MM-DD (None: no known end; kind "openai": [training]
    # openai_new_jobs_until).
    new_jobs_until: str | None = attrs.field(default=None, validator=attrs.validators.optional(iso_date))
    prices_per_million_tokens: dict[str, float] = attrs.field(factory=dict[str, float])


@attrs.frozen
class TrainingSettings:
    """Base model names are configuration: providers retire them (OpenAI stops new fine-tunes on 2027-01-06)."""

    # Where jobs run unless /train names a backend: "openai" (OpenAI's fine-tuning, until it stops taking jobs on
    # 2027-01-06), "local" (this project's training service, `python -m bot.training_service`, which speaks the same
    # API and publishes to vLLM), or the name of a [training.backends.<name>] table. "openai" and "local" without such
    # a table are described by base_url, base_models and prices below.
    backend: str = "openai"
    # The training endpoint, when it is not the chat endpoint ([llm]/OPENAI_BASE_URL): the training service's
    # http://host:port/v1 for "local". Its key comes from TRAINING_API_KEY.
    base_url: str | None = attrs.field(default=None, validator=http_url)
    # The base models of the backend in use (for "local": the names in the training service's trainer.toml).
    base_models: list[str] = attrs.field(factory=lambda: ["gpt-4.1-mini-2025-04-14", "gpt-4o-mini-2024-07-18"])
    default_base_model: str = "gpt-4.1-mini-2025-04-14"
    # Backend "openai": the day OpenAI takes no new fine-tuning jobs (its deprecations page: 2027-01-06; earlier for
    # organisations that never fine-tuned). From that day /train refuses before any upload; before it, /train and
    # `python -m bot check` say how many days are left. Azure OpenAI keeps taking jobs longer: set its date, or None.
    openai_new_jobs_until: str | None = attrs.field(default="2027-01-06", validator=attrs.validators.optional(iso_date))
    # USD per 1M training tokens, by base model, for the estimate shown before a job starts.
    prices_per_million_tokens: dict[str, float] = attrs.field(
        factory=lambda: {"gpt-4.1-mini-2025-04-14": 5.0, "gpt-4o-mini-2024-07-18": 3.0}
    )
    epochs: int = attrs.field(default=3, validator=_epochs)
    min_examples: int = attrs.field(default=10, validator=positive)
    max_tokens_per_example: int = attrs.field(default=65_536, validator=positive)
    max_upload_mb: float = attrs.field(default=50.0, validator=positive)
    # tiktoken encoding for counting; o200k_base is the gpt-4o / gpt-4.1 family's.
    encoding: str = "o200k_base"
    # Where validated datasets wait for an admin's confirmation (file names are generated, never user-supplied).
    work_dir: str = "data/training"
    # Every job's training file is kept this many days (in work_dir/kept, named by its SHA-256), so `/train again:<job>`
    # can train the same data on another backend or base model; 0 keeps none.
    keep_datasets_days: float = attrs.field(default=90.0, validator=non_negative)
    confirm_timeout_s: float = attrs.field(default=900.0, validator=positive)
    watch_interval_s: float = attrs.field(default=30.0, validator=positive)
    watch_max_backoff_s: float = attrs.field(default=600.0, validator=positive)
    # Several bot processes on one database: a job is followed by the process holding its lease, renewed every round;
    # a process that dies without releasing its jobs leaves them for this long before another takes them over.
    # Longer than watch_interval_s (checked by `python -m bot check`).
    watch_lease_s: float = attrs.field(default=120.0, validator=positive)
    # Tries to post a job's end notice (a deleted channel, a lost permission) before it is given up and logged.
    notice_attempts: int = attrs.field(default=5, validator=positive)
    # How long a request whose start was not confirmed may wait for its job to turn up before its upload is deleted.
    start_grace_s: float = attrs.field(default=600.0, validator=non_negative)
    # The share of approved corrections kept out of training as the test set (chosen by id, so always the same
    # ones), raised so that at least `held_out_min` are kept once there are 4 × that many corrections.
    held_out_share: float = attrs.field(default=0.1, validator=[non_negative, attrs.validators.lt(1.0)])
    held_out_min: int = attrs.field(default=5, validator=non_negative)
    dpo_beta: float | None = attrs.field(default=None, validator=attrs.validators.optional(non_negative))
    # More places to train, side by side: `/train backend:<name>` and `/train again:<job> backend:<name>`.
    backends: dict[str, BackendSettings] = attrs.field(factory=dict[str, BackendSettings])
