"""Typed configuration: structure and defaults from config.toml, secrets only from the environment."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from bot.config_tables import SettingsProblems, build_settings, positive
from bot.conversation.settings import ConversationSettings
from bot.discord.settings import DiscordSettings
from bot.errors import ConfigError
from bot.evaluation.settings import EvaluationSettings
from bot.finetuning.backends import PROVIDERS, backend_keys, backend_problems, configured_backends
from bot.finetuning.cutoff import TrainingCutoff
from bot.finetuning.settings import TrainingSettings
from bot.llm.retirements import shutdown_of
from bot.llm.settings import LLMSettings
from bot.llm.usage import UsageSettings
from bot.speech.settings import SpeechSettings
from bot.voice.settings import VoiceSettings

DEFAULT_CONFIG_PATH = Path("config.toml")
CONFIG_PATH_ENV = "TEACHBOT_CONFIG"


@attrs.frozen
class LimitsSettings:
    """Per-user limits on model calls."""

    model_calls: int = attrs.field(default=6, validator=positive)
    window_s: float = attrs.field(default=60.0, validator=positive)


@attrs.frozen
class StorageSettings:
    """Where records live. SQLite by default; DATABASE_URL in the environment overrides `url`."""

    url: str = "sqlite+aiosqlite:///data/teachbot.sqlite3"
    # PostgreSQL: connections each process keeps open (plus up to 10 more in a burst, closed again after). Enough for
    # every answer in flight ([llm] max_concurrent_answers) to reach the database without opening one of its own.
    pool_size: int = attrs.field(default=20, validator=attrs.validators.ge(1))


def port_number(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    """attrs validator: a TCP port, 0 meaning any free one."""
    if not 0 <= value <= 65535:
        raise ValueError(f"{attribute.name} must be between 0 and 65535, got {value}")


@attrs.frozen
class HealthSettings:
    """The process's HTTP endpoint for orchestrators and Prometheus: /healthz, /readyz, /metrics. HEALTH_HOST and
    HEALTH_PORT in the environment override host and port (several processes on one machine each take a port)."""

    enabled: bool = True
    # Loopback by default: the metrics are for the operator, not the internet. 0.0.0.0 inside a container.
    host: str = "127.0.0.1"
    port: int = attrs.field(default=8081, validator=port_number)  # 0: any free port (logged at start)
    # /readyz answers 503 when the database does not answer `SELECT 1` within this long.
    database_timeout_s: float = attrs.field(default=2.0, validator=positive)


@attrs.frozen
class Settings:
    """Everything config.toml may hold."""

    discord: DiscordSettings = attrs.field(factory=DiscordSettings)
    llm: LLMSettings = attrs.field(factory=LLMSettings)
    limits: LimitsSettings = attrs.field(factory=LimitsSettings)
    storage: StorageSettings = attrs.field(factory=StorageSettings)
    training: TrainingSettings = attrs.field(factory=TrainingSettings)
    testing: EvaluationSettings = attrs.field(factory=EvaluationSettings)
    speech: SpeechSettings = attrs.field(factory=SpeechSettings)
    voice: VoiceSettings = attrs.field(factory=VoiceSettings)
    conversation: ConversationSettings = attrs.field(factory=ConversationSettings)
    health: HealthSettings = attrs.field(factory=HealthSettings)
    usage: UsageSettings = attrs.field(factory=UsageSettings)


@attrs.frozen(repr=False)
class Secrets:
    """Values that only ever come from the environment; repr never shows them."""

    discord_token: str
    openai_api_key: str
    openai_base_url: str | None
    database_url: str | None
    training_api_key: str | None = None  # the training endpoint's key, when it has its own ([training] base_url)
    # The key of each [training.backends.<name>], by name, read from the variable its `key_env` names.
    training_keys: dict[str, str] = attrs.field(factory=dict[str, str])

    def __repr__(self) -> str:
        return "Secrets(<hidden>)"


@attrs.frozen
class Config:
    settings: Settings
    secrets: Secrets

    @property
    def database_url(self) -> str:
        return self.secrets.database_url or self.settings.storage.url


def advice(settings: Settings) -> list[str]:
    """Settings that work but are risky: shown by `python -m bot check` and logged at start."""
    notes: list[str] = []
    names = [r for r in settings.discord.admin_roles if not r.strip().isdigit()]
    if names:
        shown = ", ".join(repr(n) for n in names)
        notes.append(
            f"discord.admin_roles: {shown} {'is a role name' if len(names) == 1 else 'are role names'}. Anyone with "
            "Manage Roles can make a role of the same name, and a name that matches several roles grants nothing. "
            "Use role ids instead (Server Settings → Roles → ⋯ → Copy Role ID, with Developer Mode on)."
        )
    if settings.llm.knowledge_sources:
        notes.append(
            "llm.knowledge_sources: reading source channels needs the privileged Message Content intent (Developer "
            "Portal → Bot → Privileged Gateway Intents; without it Discord refuses the connection, close code 4014), "
            "and the bot needs View Channel and Read Message History in each source channel."
        )
    return notes


def deadlines(settings: Settings, now: dt.datetime) -> list[str]:
    """Configured models on a shutdown list, and the fine-tuning cut-off: shown by `python -m bot check` and logged
    at start, with the days left measured from `now`."""
    lines: list[str] = []
    note = TrainingCutoff(settings.training, clock=lambda: now)
    backends = configured_backends(settings.training)
    for name, backend in backends.items():
        where = f"training.backends.{name}" if name in settings.training.backends else "training.backend"
        left = note.days_left(name)
        if left is not None and left <= 0:
            lines.append(
                f"{where}: {PROVIDERS[backend.kind]} takes no new fine-tuning jobs since "
                f"{backend.new_jobs_until:%Y-%m-%d}, so /train refuses there. "
                'Set backend = "local" (the project\'s training service) or another backend to keep training.'
            )
        elif (text := note.note(name)) is not None:
            lines.append(f"{where}: {text}")
    llm, shutdowns = settings.llm, settings.llm.shutdowns
    named: list[tuple[str, str]] = [
        ("llm.default_model", llm.default_model),
        ("testing.judge_model", settings.testing.judge_model),
    ]
    named += [("llm.models", m) for m in llm.models] + [("llm.vision_models", m) for m in llm.vision_models]
    if settings.speech.engine == "openai":
        named.append(("speech.openai_model", settings.speech.openai_model))
    for name, backend in backends.items():
        if backend.kind == "openai":  # OpenAI's models, on its shutdown list (Azure keeps them longer)
            where = f"training.backends.{name}" if name in settings.training.backends else "training"
            named += [(f"{where}.base_models", m) for m in backend.base_models]
    seen: set[tuple[str, str]] = set()
    for where, model in named:
        shutdown = shutdown_of(model, shutdowns)
        if shutdown is None or (where, model) in seen:
            continue
        seen.add((where, model))
        days = shutdown.days_left(now)
        when = (
            f"shut down on {shutdown.date:%Y-%m-%d} and no longer answers"
            if days <= 0
            else f"shuts down on {shutdown.date:%Y-%m-%d} ({days} day{'s' if days != 1 else ''} left)"
        )
        lines.append(f"{where}: `{model}` {when}; choose a model that is not on [llm.shutdowns].")
    return lines


def token_problem(token: str) -> str | None:
    """Why a Discord bot token is unusable, or None. Checks its shape only; Discord decides whether it is valid."""
    first = token.split(".", 1)[0]
    if token.count(".") < 2 or not first:
        return "DISCORD_TOKEN: does not look like a bot token (expected three dot-separated parts)"
    try:
        decoded = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return "DISCORD_TOKEN: does not look like a bot token (first part is not base64 of the application id)"
    if not decoded.isdigit():
        return "DISCORD_TOKEN: does not look like a bot token (first part is not base64 of the application id)"
    return None


def read_secrets(env: Mapping[str, str], problems: list[str]) -> Secrets:
    token = env.get("DISCORD_TOKEN", "").strip()
    if not token:
        problems.append("DISCORD_TOKEN: missing — set it in the environment to your bot's token (Developer Portal)")
    elif problem := token_problem(token):
        problems.append(problem)
    base_url = env.get("OPENAI_BASE_URL", "").strip() or None
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        problems.append("OPENAI_BASE_URL: must start with http:// or https://")
    api_key = env.get("OPENAI_API_KEY", "").strip()
    if not api_key:
        if base_url is None:
            problems.append(
                "OPENAI_API_KEY: missing — set it in the environment "
                "(or set OPENAI_BASE_URL for a local server that needs no key)"
            )
        api_key = "not-needed"  # local OpenAI-compatible servers (Ollama, vLLM) accept any key
    return Secrets(
        discord_token=token,
        openai_api_key=api_key,
        openai_base_url=base_url,
        database_url=env.get("DATABASE_URL", "").strip() or None,
        training_api_key=env.get("TRAINING_API_KEY", "").strip() or None,
    )


def parse_shard_ids(text: str) -> list[int]:
    """SHARD_IDS as an operator writes it: "0,1", "2-3" or both ("0,4-6"); ValueError says what is wrong."""
    ids: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        first, dash, last = part.partition("-")
        if not first.strip().isdigit() or (dash and not last.strip().isdigit()):
            raise ValueError(f"{part!r} is not a shard id or a range like 2-3")
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise ValueError(f"the range {part!r} runs backwards")
        ids.extend(range(low, high + 1))
    return ids


def shard_settings(settings: Settings, env: Mapping[str, str], problems: list[str]) -> Settings:
    """[discord] shard_count and shard_ids, overridden by SHARD_COUNT and SHARD_IDS, checked against each other."""
    count, ids = settings.discord.shard_count, settings.discord.shard_ids
    count_name, ids_name = "discord.shard_count", "discord.shard_ids"
    if raw := env.get("SHARD_COUNT", "").strip():
        count_name = "SHARD_COUNT"
        if not raw.isdigit() or int(raw) < 1:
            problems.append(f"SHARD_COUNT: expected a whole number of shards (1 or more), got {raw!r}")
            return settings
        count = int(raw)
    if raw := env.get("SHARD_IDS", "").strip():
        ids_name = "SHARD_IDS"
        try:
            ids = parse_shard_ids(raw)
        except ValueError as exc:
            problems.append(f"SHARD_IDS: {exc} (expected ids like 0,1 or 2-3)")
            return settings
    if ids is not None:
        if count is None:
            problems.append(f"{ids_name}: shard ids need a shard count too (set {count_name} or SHARD_COUNT)")
            return settings
        if len(set(ids)) != len(ids):
            problems.append(f"{ids_name}: each shard id may be named once, got {ids}")
        if not ids:
            problems.append(f"{ids_name}: names no shard (leave it unset to run every shard)")
        if wrong := [i for i in ids if not 0 <= i < count]:
            problems.append(f"{ids_name}: {wrong} outside 0..{count - 1} ({count_name} is {count})")
    return attrs.evolve(settings, discord=attrs.evolve(settings.discord, shard_count=count, shard_ids=ids))


def read_settings(data: Mapping[str, Any], problems: list[str]) -> Settings | None:
    try:
        return build_settings(Settings, data)
    except SettingsProblems as exc:
        problems.extend(exc.problems)
        return None


def health_from_env(health: HealthSettings, env: Mapping[str, str], problems: list[str]) -> HealthSettings:
    """[health] with HEALTH_HOST / HEALTH_PORT from the environment applied (one image, several processes)."""
    host = env.get("HEALTH_HOST", "").strip()
    port_text = env.get("HEALTH_PORT", "").strip()
    if host:
        health = attrs.evolve(health, host=host)
    if port_text:
        if port_text.isdigit() and 0 <= int(port_text) <= 65535:
            health = attrs.evolve(health, port=int(port_text))
        else:
            problems.append(f"HEALTH_PORT: must be a port number between 0 and 65535, got {port_text!r}")
    return health


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read config.toml and the environment; raise ConfigError naming every problem found."""
    env = os.environ if env is None else env
    path = path or Path(env.get(CONFIG_PATH_ENV, "") or DEFAULT_CONFIG_PATH)
    problems: list[str] = []
    data: dict[str, Any] = {}
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        problems.append(f"{path}: config file not found (set {CONFIG_PATH_ENV} or run from the project folder)")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: not valid TOML ({exc})")
    settings = read_settings(data, problems)
    if settings is not None:
        problems.extend(backend_problems(settings.training, env))
    if settings is not None and settings.training.watch_lease_s <= settings.training.watch_interval_s:
        problems.append(
            "training.watch_lease_s: must be longer than training.watch_interval_s (each round renews the lease), "
            f"e.g. {4 * settings.training.watch_interval_s:g}"
        )
    if settings is not None:
        settings = attrs.evolve(settings, health=health_from_env(settings.health, env, problems))
        settings = shard_settings(settings, env, problems)
    secrets = read_secrets(env, problems)
    if settings is not None:
        secrets = attrs.evolve(secrets, training_keys=backend_keys(settings.training, env))
    if problems or settings is None:
        raise ConfigError(problems)
    return Config(settings=settings, secrets=secrets)
