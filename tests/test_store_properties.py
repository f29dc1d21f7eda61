"""Properties of plan + store together, on a real server: random event histories per subject.

Whatever the order of bookings, reschedules and cancellations, what is pending afterwards is
exactly what the last event left: nothing after a cancel, only the newest plan after a
reschedule.
"""

from __future__ import annotations

from datetime import timedelta

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.models import subject_key
from notifier.rules.engine import plan
from notifier.store import PREFIX, Store
from tests.support.builders import NOW, REMINDER_RULES, make_event, rules_from

RULES = rules_from(REMINDER_RULES)
SUBJECT = "appointment:P-1"

steps = st.lists(
    st.tuples(
        st.sampled_from(["appointment.booked", "appointment.rescheduled", "appointment.cancelled"]),
        st.integers(min_value=1, max_value=20 * 24),  # appointment in N hours
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=steps)
def test_pending_messages_match_the_last_event(
    redis_url: str, history: list[tuple[str, int]]
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    store = Store(client)
    last_planned: set[str] = set()
    for n, (event_type, hours) in enumerate(history):
        event = make_event(
            id=f"e{n}",
            type=event_type,
            subject=SUBJECT,
            data={"starts_at": (NOW + timedelta(hours=hours)).isoformat()},
        )
        accepted = store.accept(f"c:e{n}", plan(event, RULES, NOW, client="c"), NOW, ttl=60)
        last_planned = {p["id"] for p in accepted.planned}
    pending = set(client.zrange(f"{PREFIX}due", 0, -1))
    indexed = (client.hget(f"{PREFIX}subjects", subject_key("c", SUBJECT)) or "").split(",")
    assert pending == set(filter(None, indexed))
    if history[-1][0] == "appointment.cancelled":
        assert pending == set()
    else:
        assert pending == last_planned
    claimable = store.claim_due(NOW + timedelta(days=30), limit=100, lease=timedelta(minutes=5))
    assert {c.message_id for c in claimable} == pending
    client.close()
