"""The schedule store against a real Valkey server: atomic accept, claims, leases, fencing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from notifier.models import MessageStatus
from notifier.rules.engine import plan
from notifier.store import PREFIX, Claimed, Store
from tests.conftest import NOW, REMINDER_RULES, make_event, rules_from

RULES = rules_from(REMINDER_RULES)
LEASE = timedelta(minutes=5)


def accept(store: Store, **event_fields: object):  # type: ignore[no-untyped-def]
    event = make_event(**event_fields)
    return store.accept(f"c:{event.id}", plan(event, RULES, NOW), NOW, ttl=3600)


def test_accept_stores_messages_in_schedule_and_subject_index(store: Store) -> None:
    accepted = accept(store)
    assert not accepted.duplicate
    assert len(accepted.planned) == 2
    assert store.pending_count() == 2
    ids = {p["id"] for p in accepted.planned}
    assert store.redis.smembers(f"{PREFIX}subject:appointment:BRG-75-00042") == ids
    record = store.get(accepted.planned[0]["id"])
    assert record is not None
    assert record.status is MessageStatus.SCHEDULED
    assert [h.status for h in record.history] == [MessageStatus.SCHEDULED]


def test_same_event_twice_plans_once_and_answers_the_same(store: Store) -> None:
    first = accept(store)
    second = accept(store)
    assert second.duplicate
    assert second.planned == first.planned
    assert store.pending_count() == 2


def test_cancel_removes_pending_messages_of_the_subject(store: Store) -> None:
    booked = accept(store)
    cancelled = accept(store, id="evt-2", type="appointment.cancelled")
    assert sorted(cancelled.cancelled) == sorted(p["id"] for p in booked.planned)
    assert store.pending_count() == 0
    for planned in booked.planned:
        record = store.get(planned["id"])
        assert record is not None and record.status is MessageStatus.CANCELLED
    assert store.claim_due(NOW + timedelta(days=10), limit=10, lease=LEASE) == []


def test_cancel_leaves_other_subjects_alone(store: Store) -> None:
    accept(store)
    accept(store, id="evt-other", subject="appointment:OTHER-1")
    accept(store, id="evt-2", type="appointment.cancelled")
    assert store.pending_count() == 2


def test_reschedule_replaces_old_reminders(store: Store) -> None:
    booked = accept(store)
    moved = accept(
        store,
        id="evt-2",
        type="appointment.rescheduled",
        data={"starts_at": (NOW + timedelta(days=5)).isoformat()},
    )
    assert sorted(moved.cancelled) == sorted(p["id"] for p in booked.planned)
    due = store.redis.zrange(f"{PREFIX}due", 0, -1)
    assert sorted(due) == sorted(p["id"] for p in moved.planned)


def test_claim_takes_only_due_messages_once(store: Store) -> None:
    accept(store)
    first_due = NOW + timedelta(days=1)
    assert store.claim_due(first_due - timedelta(seconds=1), limit=10, lease=LEASE) == []
    claimed = store.claim_due(first_due, limit=10, lease=LEASE)
    assert len(claimed) == 1 and claimed[0].claim == 1
    assert store.claim_due(first_due, limit=10, lease=LEASE) == []
    record = store.get(claimed[0].message_id)
    assert record is not None and record.status is MessageStatus.QUEUED


def test_send_cycle_and_fencing(store: Store) -> None:
    accept(store)
    (claimed,) = store.claim_due(NOW + timedelta(days=1), limit=10, lease=LEASE)
    assert (
        store.begin_send(claimed.message_id, claimed.claim + 1, NOW, lease=LEASE, attempt="a")
        is None
    )
    lease = store.begin_send(claimed.message_id, claimed.claim, NOW, lease=LEASE, attempt="a")
    assert lease is not None and lease.message.rule == "reminder-48h"
    assert store.finish(claimed.message_id, claimed.claim, MessageStatus.SENT, NOW, channel="sms")
    # a redelivered broker message finds it sent and does nothing
    assert (
        store.begin_send(claimed.message_id, claimed.claim, NOW, lease=LEASE, attempt="a") is None
    )
    record = store.get(claimed.message_id)
    assert record is not None
    assert [h.status for h in record.history] == [
        MessageStatus.SCHEDULED,
        MessageStatus.QUEUED,
        MessageStatus.SENDING,
        MessageStatus.SENT,
    ]
    ttl = store.redis.ttl(f"{PREFIX}msg:{claimed.message_id}")
    assert 0 < ttl <= store.retention_seconds
    assert claimed.message_id not in store.redis.smembers(
        f"{PREFIX}subject:appointment:BRG-75-00042"
    )


def test_interrupted_send_can_resume_under_the_same_claim(store: Store) -> None:
    """A worker killed mid-send: Dramatiq redelivers the same claim, which may try again."""
    accept(store)
    (claimed,) = store.claim_due(NOW + timedelta(days=1), limit=10, lease=LEASE)
    assert store.begin_send(claimed.message_id, claimed.claim, NOW, lease=LEASE, attempt="a")
    again = store.begin_send(claimed.message_id, claimed.claim, NOW, lease=LEASE, attempt="a")
    assert again is not None


def test_expired_lease_returns_message_to_schedule_with_a_new_claim(store: Store) -> None:
    accept(store)
    due = NOW + timedelta(days=1)
    (first,) = store.claim_due(due, limit=10, lease=LEASE)
    assert store.reap_expired(due + LEASE - timedelta(seconds=1)) == 0
    assert store.reap_expired(due + LEASE) == 1
    (second,) = store.claim_due(due + LEASE, limit=10, lease=LEASE)
    assert second.message_id == first.message_id and second.claim == first.claim + 1
    # the stale claim can no longer send or finish
    assert store.begin_send(first.message_id, first.claim, due, lease=LEASE, attempt="a") is None
    assert not store.finish(first.message_id, first.claim, MessageStatus.SENT, due)


def test_retry_puts_message_back_in_schedule(store: Store) -> None:
    accept(store)
    (claimed,) = store.claim_due(NOW + timedelta(days=1), limit=10, lease=LEASE)
    store.begin_send(claimed.message_id, claimed.claim, NOW, lease=LEASE, attempt="a")
    retry_at = NOW + timedelta(days=1, minutes=1)
    store.finish(
        claimed.message_id,
        claimed.claim,
        MessageStatus.TEMPORARY_FAILURE,
        NOW,
        retry_at=retry_at,
    )
    record = store.get(claimed.message_id)
    assert record is not None
    assert record.status is MessageStatus.TEMPORARY_FAILURE
    assert record.due_at == retry_at and record.attempts == 1
    assert store.next_due() == NOW + timedelta(days=1, minutes=1)


def test_cancel_reaches_queued_messages(store: Store) -> None:
    booked = accept(store)
    (claimed,) = store.claim_due(NOW + timedelta(days=1), limit=10, lease=LEASE)
    accept(store, id="evt-2", type="appointment.cancelled")
    assert (
        store.begin_send(claimed.message_id, claimed.claim, NOW, lease=LEASE, attempt="a") is None
    )
    assert claimed.message_id in {p["id"] for p in booked.planned}


def test_scheduler_releases_claims_the_broker_may_not_have_taken(store: Store) -> None:
    import redis as redis_module

    from notifier.scheduler import Scheduler

    accept(store)
    sent: list[tuple[str, int]] = []
    failures = [True]

    def enqueue(claims: list[Claimed]) -> None:
        sent.append((claims[0].message_id, claims[0].claim))
        if failures:  # the broker took the first message, then the connection broke
            failures.pop()
            raise redis_module.ConnectionError("broker went away")
        sent.extend((c.message_id, c.claim) for c in claims[1:])

    scheduler = Scheduler(store, enqueue, clock=lambda: NOW + timedelta(days=3))
    with pytest.raises(redis_module.ConnectionError):
        scheduler.tick()
    assert len(sent) == 1 and len(scheduler.unsent) == 2
    assert scheduler.tick() == 2  # both released, then claimed again with new tokens
    assert sorted(claim for _, claim in sent) == [1, 2, 2] and scheduler.unsent == []
    (taken_id, taken_claim) = sent[0]
    lease = timedelta(minutes=1)
    assert store.begin_send(taken_id, taken_claim, NOW, lease=lease, attempt="a") is None


def test_a_recipients_message_index_expires_after_its_last_message(store: Store) -> None:
    """The index only serves erasure: it lives while a message record of it may."""
    decided = plan(make_event(), RULES, NOW)
    store.accept("c:evt-1", decided, NOW, ttl=3600)
    (recipient,) = {m.recipient.id for m in decided.messages}
    last_due = max(m.due_at for m in decided.messages)
    ttl = store.redis.ttl(f"{PREFIX}recipient:{recipient}:messages")
    week = 7 * 86400
    expected = int((last_due - NOW).total_seconds()) + week + store.retention_seconds
    assert expected - 2 <= ttl <= expected  # a second may pass between setting and reading
