"""What this process counts for Prometheus: interactions, answers, model errors, and gauges read when scraped."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

InteractionKind = Literal["command", "component", "modal", "autocomplete"]
# chat: a message in a chat channel, or in one of the bot's threads, that does not mention the bot.
AnswerRoute = Literal["slash", "mention", "chat", "dm", "audio", "voice"]
ModelErrorKind = Literal["rate_limit", "auth", "timeout", "not_found", "connection", "api_error"]

GATEWAY_LATENCY = "teachbot_gateway_latency_seconds"


class _ShardLatency:
    """The gateway heartbeat latency of each shard this process holds, read at scrape time (NaN until the first
    heartbeat is acknowledged)."""

    def __init__(self, read: Callable[[], Mapping[int, float]]) -> None:
        self._read = read

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(GATEWAY_LATENCY, "Gateway heartbeat latency per shard", labels=["shard"])

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for shard_id, latency in sorted(self._read().items()):
            family.add_metric([str(shard_id)], latency)
        return [family]


class Metrics:
    """One process's metrics in a registry of its own (not prometheus_client's global one), so several bots in one
    process (the tests) each count their own. Counters only grow; Prometheus' rate() makes them per minute."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._interactions = Counter(
            "teachbot_interactions", "Interactions received, by kind", ["kind"], registry=self.registry
        )
        self._answers = Counter(
            "teachbot_answers", "Answers given, by where they were asked", ["route"], registry=self.registry
        )
        self._model_errors = Counter(
            "teachbot_model_errors", "Failed calls to the model endpoint, by kind", ["kind"], registry=self.registry
        )
        # Every label value shows from the start (as 0), so a rate() over it exists before the first event.
        for kind in get_args(InteractionKind):
            self._interactions.labels(kind)
        for route in get_args(AnswerRoute):
            self._answers.labels(route)
        for error in get_args(ModelErrorKind):
            self._model_errors.labels(error)
        # Tokens by model and purpose (bot.llm.usage.Purpose); models are configuration, so their number is bounded.
        self._tokens = Counter(
            "teachbot_model_tokens",
            "Tokens the model provider reported, by model, purpose and kind (prompt, completion, cached prompt)",
            ["model", "purpose", "kind"],
            registry=self.registry,
        )
        self._calls = Counter(
            "teachbot_model_calls",
            "Model calls with reported usage, by model and purpose",
            ["model", "purpose"],
            registry=self.registry,
        )
        self._queue = Gauge(
            "teachbot_transcription_queue_depth",
            "Audio messages holding a place in the transcription queue ([speech] max_queued)",
            registry=self.registry,
        )
        self._voice = Gauge("teachbot_voice_sessions", "Voice channels this process is in", registry=self.registry)
        self._jobs = Gauge(
            "teachbot_jobs_watched", "Training jobs this process followed in its last round", registry=self.registry
        )

    def interaction(self, kind: InteractionKind) -> None:
        self._interactions.labels(kind).inc()

    def answered(self, route: AnswerRoute) -> None:
        self._answers.labels(route).inc()

    def model_error(self, kind: ModelErrorKind) -> None:
        self._model_errors.labels(kind).inc()

    def model_usage(self, model: str, purpose: str, prompt: int, completion: int, cached: int) -> None:
        self._calls.labels(model, purpose).inc()
        self._tokens.labels(model, purpose, "prompt").inc(prompt)
        self._tokens.labels(model, purpose, "completion").inc(completion)
        self._tokens.labels(model, purpose, "cached").inc(cached)

    def read_gateway_latency(self, read: Callable[[], Mapping[int, float]]) -> None:
        """`read()` gives each shard's heartbeat latency in seconds; called at every scrape."""
        self.registry.register(_ShardLatency(read))

    def read_transcription_queue(self, read: Callable[[], float]) -> None:
        self._queue.set_function(read)

    def read_voice_sessions(self, read: Callable[[], float]) -> None:
        self._voice.set_function(read)

    def read_jobs_watched(self, read: Callable[[], float]) -> None:
        self._jobs.set_function(read)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric (what GET /metrics serves)."""
        return generate_latest(self.registry)
