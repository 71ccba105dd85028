"""The training backends configured side by side, and the trainer of each, chosen by name (a job records its own)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs

from bot.errors import InvalidInput
from bot.finetuning.settings import BackendKind, TrainingSettings
from bot.finetuning.trainer import Trainer
from bot.i18n import _

# What /train's summary says for each kind.
KIND_NAMES: dict[str, str] = {
    "openai": "OpenAI fine-tuning",
    "azure": "Azure OpenAI fine-tuning",
    "local": "this bot's training service (your GPU)",
}
# Who stops taking jobs, in the cut-off's words.
PROVIDERS: dict[str, str] = {"openai": "OpenAI", "azure": "Azure OpenAI", "local": "The training service"}
LEGACY_KINDS: tuple[BackendKind, ...] = ("openai", "local")


@attrs.frozen
class Backend:
    """A configured backend with its defaults filled in: where it is, its key's variable, what it trains, until when."""

    name: str
    kind: BackendKind
    base_url: str | None
    key_env: str | None
    base_models: list[str]
    default_base_model: str
    prices_per_million_tokens: dict[str, float]
    new_jobs_until: dt.date | None

    @property
    def label(self) -> str:
        """How /train's summary names it: the kind's words, and the configured name where it says more."""
        kind = KIND_NAMES[self.kind]
        return kind if self.name == self.kind else f"{kind} (`{self.name}`)"


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def configured_backends(training: TrainingSettings) -> dict[str, Backend]:
    """Every backend by name, the default first. `[training] backend = "openai"` or `"local"` without a table of that
    name is described by [training]'s own base_url, base_models and prices (the single-backend config)."""
    found: dict[str, Backend] = {}
    default = training.backend
    if default not in training.backends and default in LEGACY_KINDS:
        kind: BackendKind = "local" if default == "local" else "openai"
        found[default] = Backend(
            name=default,
            kind=kind,
            base_url=training.base_url,
            key_env="TRAINING_API_KEY" if training.base_url is not None else None,
            base_models=list(training.base_models),
            default_base_model=training.default_base_model,
            prices_per_million_tokens=dict(training.prices_per_million_tokens),
            new_jobs_until=_date(training.openai_new_jobs_until) if kind == "openai" else None,
        )
    for name, table in sorted(training.backends.items(), key=lambda item: item[0] != default):
        until = table.new_jobs_until
        if until is None and table.kind == "openai":
            until = training.openai_new_jobs_until  # OpenAI's own date holds for every OpenAI backend
        found[name] = Backend(
            name=name,
            kind=table.kind,
            base_url=table.base_url,
            key_env=table.key_env,
            base_models=list(table.base_models),
            default_base_model=table.default_base_model or (table.base_models[0] if table.base_models else ""),
            prices_per_million_tokens=dict(table.prices_per_million_tokens),
            new_jobs_until=_date(until),
        )
    return found


def backend_problems(training: TrainingSettings, env: Mapping[str, str]) -> list[str]:
    """What `python -m bot check` says about the backends: a default that names none, a missing address, model or
    key (keys only ever come from the environment variable a backend names)."""
    problems: list[str] = []
    if training.backend not in training.backends and training.backend not in LEGACY_KINDS:
        names = ", ".join(f'"{n}"' for n in [*LEGACY_KINDS, *training.backends])
        problems.append(f"training.backend: {training.backend!r} is no backend; use one of {names}")
    for name, backend in configured_backends(training).items():
        where = f"training.backends.{name}" if name in training.backends else "training"
        if backend.kind != "openai" and backend.base_url is None:
            example = (
                "https://RESOURCE.openai.azure.com/openai/v1/"
                if backend.kind == "azure"
                else "http://127.0.0.1:8090/v1"
            )
            problems.append(f"{where}.base_url: the {backend.kind} backend needs its address, e.g. {example}")
        if not backend.base_models:
            problems.append(f"{where}.base_models: name at least one base model this backend trains")
        elif backend.default_base_model not in backend.base_models:
            problems.append(f"{where}.default_base_model: {backend.default_base_model!r} is not in base_models")
        if name not in training.backends:
            continue  # the single-backend config: TRAINING_API_KEY is optional, as before
        if backend.key_env is None:
            if backend.kind == "azure" or (backend.kind == "openai" and backend.base_url is not None):
                problems.append(f"{where}.key_env: name the environment variable that holds this backend's key")
        elif not env.get(backend.key_env, "").strip():
            problems.append(f"{backend.key_env}: missing — set it in the environment (the key of backend {name!r})")
    return problems


def backend_keys(training: TrainingSettings, env: Mapping[str, str]) -> dict[str, str]:
    """Each backend's key, by backend name, from the environment variable it names (absent where none is set)."""
    keys: dict[str, str] = {}
    for name, backend in configured_backends(training).items():
        if backend.key_env and (key := env.get(backend.key_env, "").strip()):
            keys[name] = key
    return keys


class Trainers:
    """The trainer of every configured backend, by name; the default backend's is used where none is named."""

    def __init__(self, trainers: Mapping[str, Trainer], default: str, *, only: bool = False) -> None:
        if default not in trainers:
            raise ValueError(f"the default backend {default!r} has no trainer")
        self._trainers = dict(trainers)
        self.default_name = default
        self._only = only

    @classmethod
    def single(cls, trainer: Trainer, name: str = "default") -> Trainers:
        """One trainer that follows every job, whatever backend it recorded (a watcher given a single trainer)."""
        return cls({name: trainer}, name, only=True)

    @property
    def names(self) -> list[str]:
        return list(self._trainers)

    @property
    def default(self) -> Trainer:
        return self._trainers[self.default_name]

    def of(self, name: str | None) -> Trainer:
        """The trainer a command asked for by name (None: the default); a clear error for a name not configured."""
        if name is None:
            return self.default
        trainer = self._trainers.get(name.strip())
        if trainer is None:
            shown = name if len(name) <= 40 else name[:39] + "…"
            names = ", ".join(f"`{n}`" for n in self._trainers)
            raise InvalidInput(
                _("`{shown}` is not a training backend of this bot. Choose one of: {names}.", shown=shown, names=names)
            )
        return trainer

    def for_job(self, backend: str) -> Trainer | None:
        """The trainer of the backend a job or request recorded; None once that backend is no longer configured."""
        return self.default if self._only else self._trainers.get(backend)
