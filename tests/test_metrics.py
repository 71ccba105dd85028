"""What an operator's Prometheus scrapes from /metrics: every label at 0 from the start, counts that grow, and
gauges read at scrape time; two bots in one process count apart."""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
    }


def test_every_kind_and_route_is_exposed_at_zero_before_anything_happens() -> None:
    scraped = samples(Metrics())
    assert scraped[("teachbot_interactions_total", (("kind", "autocomplete"),))] == 0
    assert scraped[("teachbot_answers_total", (("route", "voice"),))] == 0
    assert scraped[("teachbot_model_errors_total", (("kind", "not_found"),))] == 0


def test_counts_grow_per_label_and_token_kinds_are_told_apart() -> None:
    metrics = Metrics()
    metrics.interaction("command")
    metrics.interaction("command")
    metrics.answered("dm")
    metrics.model_error("timeout")
    metrics.model_usage("gpt-4o-mini", "answer", prompt=120, completion=30, cached=100)
    metrics.model_usage("gpt-4o-mini", "answer", prompt=10, completion=5, cached=0)
    scraped = samples(metrics)
    assert scraped[("teachbot_interactions_total", (("kind", "command"),))] == 2
    assert scraped[("teachbot_interactions_total", (("kind", "modal"),))] == 0
    assert scraped[("teachbot_answers_total", (("route", "dm"),))] == 1
    assert scraped[("teachbot_model_errors_total", (("kind", "timeout"),))] == 1
    tokens = {labels: value for (name, labels), value in scraped.items() if name == "teachbot_model_tokens_total"}
    assert {dict(labels)["kind"]: value for labels, value in tokens.items()} == {
        "prompt": 130,
        "completion": 35,
        "cached": 100,
    }
    assert scraped[("teachbot_model_calls_total", (("model", "gpt-4o-mini"), ("purpose", "answer")))] == 2
    # Another bot in the same process counted nothing of it.
    assert samples(Metrics())[("teachbot_interactions_total", (("kind", "command"),))] == 0


def test_gauges_are_read_when_scraped() -> None:
    metrics = Metrics()
    latencies = {0: math.nan, 1: 0.25}
    queue = [3.0]
    metrics.read_gateway_latency(lambda: latencies)
    metrics.read_transcription_queue(lambda: queue[0])
    metrics.read_voice_sessions(lambda: 2)
    metrics.read_jobs_watched(lambda: 0)
    scraped = samples(metrics)
    assert math.isnan(scraped[("teachbot_gateway_latency_seconds", (("shard", "0"),))])
    assert scraped[("teachbot_gateway_latency_seconds", (("shard", "1"),))] == 0.25
    assert scraped[("teachbot_transcription_queue_depth", ())] == 3
    assert scraped[("teachbot_voice_sessions", ())] == 2
    latencies[1], queue[0] = 0.05, 0.0
    scraped = samples(metrics)
    assert scraped[("teachbot_gateway_latency_seconds", (("shard", "1"),))] == 0.05
    assert scraped[("teachbot_transcription_queue_depth", ())] == 0
