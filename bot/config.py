"""Typed configuration: structure and defaults from config.toml, secrets only from the environment."""

from __future__ import annotations

import base64
import binascii
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from bot.conversation.settings import ConversationSettings
from bot.errors import ConfigError
from bot.settings import SettingsProblems, build_settings, non_negative, positive
from bot.speech.settings import SpeechSettings
from bot.training.settings import TrainingSettings
from bot.voice.settings import VoiceSettings

DEFAULT_CONFIG_PATH = Path("config.toml")
CONFIG_PATH_ENV = "TEACHBOT_CONFIG"


def http_url(_instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    """attrs validator: an http(s) URL, when given."""
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"{attribute.name} must start with http:// or https://, got {value!r}")


@attrs.frozen
class DiscordSettings:
    """How the bot presents itself and where it listens."""

    # Guild ids to register commands in (fast to update); empty registers them globally.
    command_guilds: list[int] = attrs.field(factory=list[int])
    # Channels where every message is answered (besides mentions and DMs).
    chat_channels: list[int] = attrs.field(factory=list[int])
    answer_in_dms: bool = True
    # Members with this role name or id may run admin actions, besides those with Manage Server.
    admin_roles: list[str] = attrs.field(factory=lambda: ["Bot Admin"])
    # Admin actions also accept the Manage Server permission (recommended). Turning this off leaves only the roles.
    manage_guild_is_admin: bool = True
    # Discord's REST API base URL; unset means Discord itself. For a self-hosted REST proxy, or a local test server
    # (the start-up tests point it at tests/fakes/discord.py). The gateway URL comes from GET /gateway/bot there.
    rest_url: str | None = attrs.field(default=None, validator=http_url)


@attrs.frozen
class LLMSettings:
    """The chat model and how conversations are built for it."""

    default_model: str = "gpt-4o-mini"
    # Models an admin may switch a server to with /model use, besides the server's fine-tuned ones.
    models: list[str] = attrs.field(factory=lambda: ["gpt-4o-mini", "gpt-4.1-mini"])
    system_prompt: str = "You are a helpful assistant in a Discord community. Answer concisely."
    max_answer_tokens: int = attrs.field(default=1024, validator=positive)
    temperature: float | None = None
    request_timeout_s: float = attrs.field(default=60.0, validator=positive)
    max_retries: int = attrs.field(default=2, validator=non_negative)
    # Conversation memory: the same user's recent turns in the same channel.
    memory_turns: int = attrs.field(default=6, validator=non_negative)
    memory_max_age_minutes: float = attrs.field(default=60.0, validator=positive)
    context_token_budget: int = attrs.field(default=3000, validator=positive)
    max_question_chars: int = attrs.field(default=4000, validator=positive)
    # Answers produced at once; more wait their turn (already acknowledged) so a burst cannot starve the bot.
    max_concurrent_answers: int = attrs.field(default=16, validator=positive)
    # Streaming edits happen at most this often (Discord allows roughly 5 edits per 5 s per message).
    edit_interval_s: float = attrs.field(default=1.0, validator=positive)


@attrs.frozen
class LimitsSettings:
    """Per-user limits on model calls."""

    model_calls: int = attrs.field(default=6, validator=positive)
    window_s: float = attrs.field(default=60.0, validator=positive)


@attrs.frozen
class StorageSettings:
    """Where records live. SQLite by default; DATABASE_URL in the environment overrides `url`."""

    url: str = "sqlite+aiosqlite:///data/teachbot.sqlite3"


@attrs.frozen
class Settings:
    """Everything config.toml may hold."""

    discord: DiscordSettings = attrs.field(factory=DiscordSettings)
    llm: LLMSettings = attrs.field(factory=LLMSettings)
    limits: LimitsSettings = attrs.field(factory=LimitsSettings)
    storage: StorageSettings = attrs.field(factory=StorageSettings)
    training: TrainingSettings = attrs.field(factory=TrainingSettings)
    speech: SpeechSettings = attrs.field(factory=SpeechSettings)
    voice: VoiceSettings = attrs.field(factory=VoiceSettings)
    conversation: ConversationSettings = attrs.field(factory=ConversationSettings)


@attrs.frozen(repr=False)
class Secrets:
    """Values that only ever come from the environment; repr never shows them."""

    discord_token: str
    openai_api_key: str
    openai_base_url: str | None
    database_url: str | None

    def __repr__(self) -> str:
        return "Secrets(<hidden>)"


@attrs.frozen
class Config:
    settings: Settings
    secrets: Secrets

    @property
    def database_url(self) -> str:
        return self.secrets.database_url or self.settings.storage.url


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
    )


def read_settings(data: Mapping[str, Any], problems: list[str]) -> Settings | None:
    try:
        return build_settings(Settings, data)
    except SettingsProblems as exc:
        problems.extend(exc.problems)
        return None


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
    secrets = read_secrets(env, problems)
    if problems or settings is None:
        raise ConfigError(problems)
    return Config(settings=settings, secrets=secrets)
