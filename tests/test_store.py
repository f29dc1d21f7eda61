"""The schedule store against a real Valkey server: atomic accept, claims, leases, fencing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from notifier.models import Channel, MessageStatus, recipient_key, subject_key
from notifier.rules.engine import message_id, plan
from notifier.runtime.clock import utc_text
from notifier.store import LAYOUT, PREFIX, Claimed, Store
from notifier.store.recipients import RecipientStore
from tests.support.builders import CONTACT_KEY, NOW, REMINDER_RULES, make_event, rules_from

RULES = rules_from(REMINDER_RULES)
LEASE = timedelta(minutes=5)


def subject_index(store: Store, subject: str) -> set[str]:
    """The ids the store lists as its subject's messages not yet final."""
    field = subject_key("c", subject)
    return set(filter(None, (store.redis.hget(f"{PREFIX}subjects", field) or "").split(",")))


def accept(store: Store, **event_fields: object):  # type: ignore[no-untyped-def]
    event = make_event(**event_fields)
    return store.accept(f"c:{event.id}", plan(event, RULES, NOW, client="c"), NOW, ttl=3600)


def test_accept_stores_messages_in_schedule_and_subject_index(store: Store) -> None:
    accepted = accept(store)
    assert not accepted.duplicate
    assert len(accepted.planned) == 2
    assert store.pending_count() == 2
    ids = {p["id"] for p in accepted.planned}
    assert subject_index(store, "appointment:BRG-75-00042") == ids
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
    assert claimed.message_id not in subject_index(store, "appointment:BRG-75-00042")


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

    from notifier.scheduling.scheduler import Scheduler

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
    """The index only serves erasure: it lives while a message record of it may, and at
    most a week more (indexes are kept by the week)."""
    decided = plan(make_event(), RULES, NOW)
    store.accept("c:evt-1", decided, NOW, ttl=3600)
    (recipient,) = {recipient_key(m.tenant, m.recipient.id) for m in decided.messages}
    indexes = list(store.redis.scan_iter(f"{PREFIX}recipients:*"))
    listed = {k: (store.redis.hget(k, recipient) or "").split(",") for k in indexes}
    assert {i for ids in listed.values() for i in ids} == {m.id for m in decided.messages}
    week = 7 * 86400
    for message in decided.messages:
        (index,) = [k for k, ids in listed.items() if message.id in ids]
        kept = int((message.due_at - NOW).total_seconds()) + week + store.retention_seconds
        assert kept - 2 <= store.redis.ttl(index) <= kept + week
    weeks = store.redis.smembers(f"{PREFIX}recipient-weeks")
    assert {f"{PREFIX}recipients:{w}" for w in weeks} == set(indexes)


def test_a_replay_answers_the_first_answer_from_the_message_records(store: Store) -> None:
    """The idempotency record keeps ids only; the rest of a replayed answer is read from the
    records, so a message erased since is left out rather than described from memory."""
    first = accept(store)
    assert {p["due_at"] for p in first.planned} == {
        utc_text(NOW + timedelta(days=3) - timedelta(hours=h)) for h in (48, 2)
    }
    erased = RecipientStore(store.redis, contact_key=CONTACT_KEY).erase("c", "citizen-1")
    assert erased == 2
    replay = accept(store)
    assert replay.duplicate and replay.planned == [] and store.pending_count() == 0


def test_a_replay_answers_what_was_skipped_and_cancelled(store: Store) -> None:
    booked = accept(store)
    now = {"starts_at": NOW.isoformat()}
    late = make_event(id="evt-late", subject="appointment:LATE", data=now)
    first_late = store.accept("c:evt-late", plan(late, RULES, NOW, client="c"), NOW, ttl=3600)
    assert [s["rule"] for s in first_late.skipped] == ["reminder-48h", "reminder-2h"]
    cancel = make_event(id="evt-2", type="appointment.cancelled")
    first = store.accept("c:evt-2", plan(cancel, RULES, NOW, client="c"), NOW, ttl=3600)
    assert sorted(first.cancelled) == sorted(p["id"] for p in booked.planned)
    for key, event, answer in (("c:evt-late", late, first_late), ("c:evt-2", cancel, first)):
        replay = store.accept(key, plan(event, RULES, NOW, client="c"), NOW, ttl=3600)
        assert replay.duplicate
        assert (replay.planned, replay.skipped, replay.cancelled) == (
            answer.planned,
            answer.skipped,
            answer.cancelled,
        )


def test_history_keeps_any_detail_and_the_status_is_its_last_entry(store: Store) -> None:
    """Details are free text (a provider's error): quotes, brackets, newlines and accents
    must neither break the history nor fool the scripts reading the status from it."""
    accept(store)
    (claimed,) = store.claim_due(NOW + timedelta(days=1), limit=10, lease=LEASE)
    store.begin_send(claimed.message_id, claimed.claim, NOW, lease=LEASE, attempt="a")
    tricky = '[1,"sent"] refusé: "quota"\n[2,"delivered"]\\ ]\u2028\x1c[3,"sent"]'
    store.note(claimed.message_id, NOW, tricky, Channel.SMS)
    record = store.get(claimed.message_id)
    assert record is not None and record.status is MessageStatus.SENDING
    assert (record.history[-1].detail, record.history[-1].channel) == (tricky, Channel.SMS)
    assert record.history[-1].at == NOW
    assert store.finish(claimed.message_id, claimed.claim, MessageStatus.SENT, NOW, detail=tricky)
    record = store.get(claimed.message_id)
    assert record is not None and record.status is MessageStatus.SENT
    assert record.history[-1].detail == tricky and record.history[-1].channel is None


def test_a_late_note_never_moves_the_status(store: Store) -> None:
    """A worker noting a failed channel after its lease expired: the message was put back
    in the schedule meanwhile, and must stay there, cancellable."""
    accept(store)
    due = NOW + timedelta(days=1)
    (claimed,) = store.claim_due(due, limit=10, lease=LEASE)
    store.begin_send(claimed.message_id, claimed.claim, due, lease=LEASE, attempt="a")
    assert store.reap_expired(due + LEASE) == 1
    store.note(claimed.message_id, due + LEASE, "sms: provider timeout", Channel.SMS)
    record = store.get(claimed.message_id)
    assert record is not None and record.status is MessageStatus.SCHEDULED
    cancelled = accept(store, id="evt-2", type="appointment.cancelled")
    assert claimed.message_id in cancelled.cancelled


def test_erasure_finds_messages_in_every_weekly_index(store: Store) -> None:
    """A recipient's messages months apart are listed in different weeks' indexes."""
    for n, days in enumerate((3, 40, 200)):
        starts = (NOW + timedelta(days=days)).isoformat()
        accept(store, id=f"evt-{n}", subject=f"appointment:{n}", data={"starts_at": starts})
    accept(store, id="evt-other", subject="appointment:other", recipient={"id": "citizen-2"})
    weeks = store.redis.smembers(f"{PREFIX}recipient-weeks")
    assert len(weeks) >= 3
    assert RecipientStore(store.redis, contact_key=CONTACT_KEY).erase("c", "citizen-1") == 6
    assert store.pending_count() == 2  # citizen-2's
    assert set(store.redis.hgetall(f"{PREFIX}subjects")) == {"c|appointment:other"}


def test_a_schedule_in_another_layout_is_refused(store: Store) -> None:
    store.check_layout()  # a new server: marked
    assert store.redis.get(f"{PREFIX}layout") == LAYOUT
    store.redis.delete(f"{PREFIX}layout")
    accept(store)  # written before any process checked: marked too
    store.check_layout()
    store.redis.delete(f"{PREFIX}layout")  # as written by the first layout, which had no mark
    with pytest.raises(RuntimeError, match=f"layout 1; this version reads layout {LAYOUT}"):
        store.check_layout()
    store.redis.set(f"{PREFIX}layout", "99")
    with pytest.raises(RuntimeError, match="layout 99"):
        store.check_layout()
    store.redis.set(f"{PREFIX}layout", "3")  # recipients shared by every tenant
    with pytest.raises(RuntimeError, match=rf"layout 3; this version reads layout {LAYOUT}.*empty"):
        store.check_layout()


def test_message_ids_are_short_and_url_safe() -> None:
    ids = {message_id("crm", f"evt-{n}", "reminder-48h") for n in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", i) for i in ids)
