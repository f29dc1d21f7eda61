"""Durable writes against a real primary and replica: what is answered or done waits for
the replica (WAIT), and settings for Sentinel are checked at start-up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from notifier.channels.base import Outcome, SendResult
from notifier.cli import main
from notifier.models import Channel, MessageStatus
from notifier.rules.engine import plan
from notifier.runtime.redis_server import EmbeddedValkey
from notifier.runtime.settings import get_settings
from notifier.store import NotReplicated, Store, aio
from tests.support.builders import (
    DUE,
    NOW,
    REMINDER_RULES,
    RULES,
    ScriptedTransport,
    api_client,
    deliverer,
    make_event,
    schedule,
)
from tests.support.replicated import follow, server


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[EmbeddedValkey, EmbeddedValkey]]:
    primary = server(tmp_path / "primary")
    replica = server(tmp_path / "replica", replica_of=primary.port)
    yield primary, replica
    replica.stop()
    primary.stop()


def durable_store(port: int, *, patience: float = 0.0) -> Store:
    """The API's single events go through the asyncio client (notifier.store.aio), every
    other step through the synchronous one: both wait for the replica."""
    client = redis.Redis(port=port, decode_responses=True)
    return Store(
        client,
        replicas=1,
        wait=timedelta(milliseconds=200),
        patience=patience,
        connect_async=aio.from_url(f"redis://127.0.0.1:{port}/0"),
    )


def detach(replica: EmbeddedValkey) -> None:
    """The replica stops following the primary: it keeps what it had (as after a failover)."""
    with redis.Redis(port=replica.port) as client:
        client.replicaof("NO", "ONE")


def reattach(replica: EmbeddedValkey, primary: EmbeddedValkey) -> None:
    follow(replica.port, primary.port)


def test_an_unconfirmed_accept_is_a_503_and_its_retry_answers_with_the_same_plan(
    pair: tuple[EmbeddedValkey, EmbeddedValkey], tmp_path: Path
) -> None:
    primary, replica = pair
    store = durable_store(primary.port)
    event = make_event().model_dump(mode="json")
    with api_client(store, REMINDER_RULES, tmp_path / "rules", {"crm": "secret-key"}) as http:
        auth = {"Authorization": "Bearer secret-key"}
        assert (
            http.post(
                "/v1/events",
                json={**event, "id": "evt-0", "subject": "appointment:other"},
                headers=auth,
            ).status_code
            == 202
        )
        detach(replica)
        refused = http.post("/v1/events", json=event, headers=auth)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert "0 of 1 replicas" in refused.json()["detail"]
        reattach(replica, primary)
        retried = http.post("/v1/events", json=event, headers=auth)
    assert retried.status_code == 202, retried.text
    assert len(retried.json()["planned"]) == 2
    assert store.pending_count() == 4  # two per event: the retry planned nothing more


def test_a_retry_after_a_lost_accept_is_planned_afresh(
    pair: tuple[EmbeddedValkey, EmbeddedValkey],
) -> None:
    """The plan and its idempotency key are one write: lost together, so the retry on the
    promoted replica is not refused as a duplicate of what it never received."""
    primary, replica = pair
    detach(replica)
    event = make_event()
    with pytest.raises(NotReplicated):
        durable_store(primary.port).accept("c:evt-1", plan(event, RULES, NOW), NOW, ttl=60)
    promoted = Store(redis.Redis(port=replica.port, decode_responses=True))
    accepted = promoted.accept("c:evt-1", plan(event, RULES, NOW), NOW, ttl=60)
    assert not accepted.duplicate and len(accepted.planned) == 2
    assert promoted.pending_count() == 2


def test_no_provider_call_before_its_mark_is_on_a_replica(
    pair: tuple[EmbeddedValkey, EmbeddedValkey],
) -> None:
    """A mark lost in a failover would let the next attempt send again: the call waits for
    the replica, and a worker that waited its patience out leaves the call undone."""
    primary, replica = pair
    store = durable_store(primary.port, patience=0.5)
    claimed = schedule(store)
    detach(replica)
    sms = ScriptedTransport(SendResult(Outcome.SENT))
    with pytest.raises(NotReplicated):
        deliverer(store, {Channel.SMS: sms}).deliver(claimed.message_id, claimed.claim)
    assert sms.sent == []
    reattach(replica, primary)
    store.finish(claimed.message_id, claimed.claim, MessageStatus.SENT, DUE)  # confirmed now


def test_a_primary_refusing_writes_for_want_of_replicas_is_a_503_not_a_500(
    pair: tuple[EmbeddedValkey, EmbeddedValkey], tmp_path: Path
) -> None:
    """``min-replicas-to-write``: just after a failover, or cut off, the primary answers
    NOREPLICAS; nothing was written, and it passes like an outage."""
    primary, replica = pair
    with redis.Redis(port=primary.port) as client:
        client.config_set("min-replicas-to-write", 1)
    detach(replica)
    store = Store(
        redis.Redis(port=primary.port, decode_responses=True),
        connect_async=aio.from_url(f"redis://127.0.0.1:{primary.port}/0"),
    )
    with api_client(store, REMINDER_RULES, tmp_path / "rules", {"crm": "secret-key"}) as http:
        auth = {"Authorization": "Bearer secret-key"}
        refused = http.post("/v1/events", json=make_event().model_dump(mode="json"), headers=auth)
    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"]


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        pytest.param(
            {"NOTIFIER_REDIS_SENTINELS": "sentinel-1:26379,sentinel-2"},
            "error: NOTIFIER_REDIS_SENTINELS: 'sentinel-2' is not host:port "
            "(e.g. sentinel-1:26379)",
            id="sentinel-without-port",
        ),
        pytest.param(
            {"NOTIFIER_REDIS_SENTINELS": "s:26379", "NOTIFIER_REDIS_URL": "redis://r:6379/0"},
            "error: set NOTIFIER_REDIS_URL (one server) or NOTIFIER_REDIS_SENTINELS, not both",
            id="url-and-sentinels",
        ),
        pytest.param(
            {"NOTIFIER_REDIS_WAIT_REPLICAS": "-1"},
            "error: NOTIFIER_REDIS_WAIT_REPLICAS: Input should be greater than or equal to 0",
            id="negative-replicas",
        ),
    ],
)
def test_bad_redis_settings_are_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: dict[str, str],
    expected: str,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert main(["api"]) == 2
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().err.splitlines() == [expected]


@pytest.mark.parametrize("command", ["api", "worker"])
def test_real_e_mail_without_a_public_url_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """Its e-mails would go out without the citizen's link and one-click unsubscribe."""
    monkeypatch.setenv("NOTIFIER_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("NOTIFIER_SMTP_HOST", "smtp.example.fr")
    monkeypatch.setenv("NOTIFIER_SMTP_FROM", "ne-pas-repondre@example.fr")
    monkeypatch.delenv("NOTIFIER_PUBLIC_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert main([command]) == 2
    finally:
        get_settings.cache_clear()
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: NOTIFIER_PUBLIC_URL is not set")
