"""Prometheus metrics of every process: what the on-call engineer and the alerts read.

Names follow the Prometheus conventions (``notifier_`` prefix, ``_total`` counters, base
units: seconds). Labels are bounded: client (API keys, made by ops), event type (only the
types some rule knows; any other is ``other``), rule, channel, outcome — never a recipient,
a subject or a message id (a test checks every exposed series).

Where each process serves them:

* API: ``GET /metrics`` on its own port;
* scheduler: ``NOTIFIER_SCHEDULER_METRICS_PORT`` (the schedule's size, overdue messages and
  the age of the oldest, read from Redis when scraped, so any scheduler tells the truth);
* workers: ``NOTIFIER_WORKER_METRICS_PORT``, Dramatiq's exposition server, which adds up
  every worker process's counters (prometheus_client's multiprocess mode) with Dramatiq's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from notifier.channels.registry import plugins
from notifier.rules.loader import RuleSet
from notifier.runtime.clock import utcnow
from notifier.runtime.reloading import Reloading
from notifier.store import UNAVAILABLE, Store, from_ms, to_ms

LATENESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30)


def event_type_label(event_type: str, rules: RuleSet) -> str:
    """The event type if a rule knows it (a bounded set), else ``other``."""
    return event_type if rules.for_type(event_type) else "other"


@dataclass
class ApiMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter(
            "notifier_events_total",
            "Events answered, by client, event type and outcome (accepted, duplicate, refused).",
            ["client", "type", "outcome"],
            registry=r,
        )
        self.planned = Counter(
            "notifier_messages_planned_total", "Messages planned, by rule.", ["rule"], registry=r
        )
        self.cancelled = Counter(
            "notifier_messages_cancelled_total",
            "Pending messages cancelled by a later event.",
            registry=r,
        )
        self.redis_errors = Counter(
            "notifier_redis_errors_total",
            "Requests answered 503 because Redis was unreachable.",
            registry=r,
        )


class EngineCollector(Collector):
    """Read from Redis and the holders when scraped: versions, reload errors, channels off."""

    def __init__(self, store: Store, holders: dict[str, Reloading[Any]]) -> None:
        self.store = store
        self.holders = holders

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "notifier_config_info",
            "Version of the rules and templates in force (value 1), and whether the last "
            "reload was refused.",
            labels=["kind", "version", "reload_error"],
        )
        failures = CounterMetricFamily(
            "notifier_reload_failures",
            "Refused reloads of the rules or templates folder (the last good one stays).",
            labels=["kind"],
        )
        for kind, holder in self.holders.items():
            failed = "true" if holder.last_error is not None else "false"
            info.add_metric([kind, holder.current.version, failed], 1)
            failures.add_metric([kind], holder.failures)
        yield info
        yield failures
        off = GaugeMetricFamily(
            "notifier_channel_stopped",
            "1 for a channel a worker stopped (its provider refused our configuration).",
            labels=["channel"],
        )
        try:
            stopped = self.store.channels_off()
        except UNAVAILABLE:
            stopped = {}
        for channel in plugins():
            off.add_metric([str(channel)], 1 if channel in stopped else 0)
        yield off


class ScheduleCollector(Collector):
    """The schedule as it stands, read from Redis when scraped."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterable[Metric]:
        now = self.clock()
        up = GaugeMetricFamily("notifier_redis_up", "1 if Redis answered this scrape.")
        try:
            size, overdue, oldest = self.store.schedule_stats(now)
        except UNAVAILABLE:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "notifier_schedule_messages", "Messages waiting in the schedule.", value=size
        )
        yield GaugeMetricFamily(
            "notifier_schedule_overdue_messages",
            "Messages of the schedule already due and not yet claimed.",
            value=overdue,
        )
        age = (now - from_ms(oldest)).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "notifier_schedule_oldest_overdue_age_seconds",
            "How late the most overdue message already is (0 when none is).",
            value=max(age, 0.0),
        )


@dataclass
class SchedulerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.enqueued = Counter(
            "notifier_scheduler_enqueued_total", "Due messages handed to the workers.", registry=r
        )
        self.redis_errors = Counter(
            "notifier_redis_errors_total", "Ticks that found Redis unreachable.", registry=r
        )
        self.last_tick = Gauge(
            "notifier_scheduler_last_tick_timestamp_seconds",
            "When this scheduler last completed a tick (Unix time).",
            registry=r,
        )


class DeliveryMetrics:
    """The worker's figures. In worker processes prometheus_client runs in multiprocess mode
    (``PROMETHEUS_MULTIPROC_DIR``, set by ``notifier worker``), so counters add up."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.attempts = Counter(
            "notifier_delivery_attempts_total",
            "Delivery attempts, by channel and outcome (sent, retry, permanent, gone, "
            "misconfigured, unknown, skipped).",
            ["channel", "outcome"],
            registry=registry,
        )
        self.lateness = Histogram(
            "notifier_firing_lateness_seconds",
            "Time from a message's due time to its send.",
            buckets=LATENESS_BUCKETS,
            registry=registry,
        )
        self.call_duration = Histogram(
            "notifier_provider_call_duration_seconds",
            "Duration of each call to a provider, by channel.",
            ["channel"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.rate_limit_waits = Counter(
            "notifier_rate_limit_waits_total",
            "Sends that had to wait for the channel's shared rate limit.",
            ["channel"],
            registry=registry,
        )


def lateness_seconds(due: datetime, sent: datetime) -> float:
    return max(0.0, (to_ms(sent) - to_ms(due)) / 1000)
