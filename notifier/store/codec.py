"""What the store reads and writes, as values: key names, answers, histories, records.

Pure functions and plain data, no I/O: :mod:`notifier.store.store` does the talking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from redis._parsers.base import BaseParser
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from notifier.models import (
    Channel,
    HistoryEntry,
    MessageStatus,
    PlannedMessage,
    recipient_key,
)
from notifier.rules.plans import Plan
from notifier.runtime.clock import utc_text

PREFIX = "notifier:"
LAYOUT = "5"  # of the keys above; a version that changes them changes this (check_layout)

CHANNELS_OFF = f"{PREFIX}channels-off"


class NoReplicas(redis.ConnectionError):
    """The primary refuses writes: fewer replicas than its ``min-replicas-to-write`` (just
    after a failover, or cut off from them). Nothing was written; it passes, as an outage.
    """


# redis-py turns error replies into exceptions by their first word, and leaves this one a
# plain ResponseError (a 500, a dead scheduler): as a connection error, every process waits
# and retries it as it does an outage.
BaseParser.EXCEPTION_CLASSES.setdefault("NOREPLICAS", NoReplicas)

# The server is down, unreachable, or still loading its data after a restart: try later.
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError)


class NotReplicated(redis.ConnectionError):
    """A write reached the primary, but fewer replicas than required confirmed it in time.

    It may be lost if the primary fails now: what depends on it must not be answered or
    done yet. A connection error, so that whoever waits for Redis waits for this too.
    """

    def __init__(self, confirmed: int, required: int, wait: float) -> None:
        super().__init__(
            f"{confirmed} of {required} replicas confirmed the write within {wait:g} s"
        )
        self.confirmed, self.required = confirmed, required


@dataclass(frozen=True)
class CapLimit:
    """At most ``max`` messages within any ``period`` for one counter ``key``."""

    key: str
    max: int
    period: timedelta


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int | float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True)
class Accepted:
    """The store's answer to an event: what it planned, cancelled, and whether it was a replay."""

    duplicate: bool
    planned: list[dict[str, Any]]
    skipped: list[dict[str, str]]
    cancelled: list[str]


@dataclass(frozen=True)
class Claimed:
    message_id: str
    claim: int


@dataclass(frozen=True)
class SendLease:
    """A message a worker may now send; ``None`` from :meth:`Store.begin_send` means skip."""

    message: PlannedMessage
    attempts: int
    interrupted_call: str | None = None  # channel of a provider call with no known outcome
    excluded: frozenset[str] = frozenset()  # channels a delivery receipt reported as failed
    registered: dict[str, str] = field(default_factory=dict)  # the recipient's stored hash
    due_at: datetime | None = None  # when this claim fell due (a retry's, a deferral's)
    # a person of any tenant with discreet messages has one of the recipient's contacts;
    # None: not known (the record keeps no keyed hashes of its contacts)
    watched: bool | None = None


class TakenOver(Exception):
    """A later attempt of the same claim owns the message: this one must not send."""


@dataclass(frozen=True)
class Busy:
    """Another attempt may be calling a provider for this message for ``wait`` more."""

    wait: timedelta


@dataclass(frozen=True)
class MessageRecord:
    id: str
    status: MessageStatus
    due_at: datetime
    attempts: int
    message: PlannedMessage
    history: list[HistoryEntry]
    # whether its last send went in the discreet wording; None: not sent, or sent before
    # this was recorded
    discreet: bool | None = None
    calls: int = 0  # provider calls made for it, on every channel tried


def planned_summary(message: PlannedMessage) -> dict[str, Any]:
    """What the API answers about a planned message: no personal data, just the plan."""
    return {
        "id": message.id,
        "rule": message.rule,
        "due_at": utc_text(message.due_at),
        "channels": [c.value for c in message.channels],
    }


def encode_answer(plan: Plan) -> str:
    """What is kept of an event's answer for replays: the ids it planned, what it skipped.

    The rest of the answer is in the messages' own records, so a replay reads it there
    instead of storing it twice: a message erased since is left out of the replayed answer.
    """
    skipped = [[s.rule, s.reason] for s in plan.skipped]
    ids = ",".join(m.id for m in plan.messages)
    return ids + "\n" + json.dumps(skipped, separators=(",", ":"), ensure_ascii=False)


def decode_answer(reply: list[str], plan: Plan) -> Accepted:
    """The accept script's reply: fresh or not, the stored answer (:func:`encode_answer`, a
    newline, the ids cancelled), and for a replay, the body of each message it planned."""
    fresh, stored, *bodies = reply
    _, skipped, cancelled = stored.split("\n", 2)
    if int(fresh):  # what was stored is this plan's: no need to read it back
        planned = list(plan.messages)
        passed = [(s.rule, s.reason) for s in plan.skipped]
    else:
        planned = [PlannedMessage.model_validate_json(b) for b in bodies if b]
        passed = json.loads(skipped)
    return Accepted(
        duplicate=not int(fresh),
        planned=[planned_summary(m) for m in planned],
        skipped=[{"rule": rule, "reason": reason} for rule, reason in passed],
        cancelled=[c for c in cancelled.split(",") if c],
    )


def decode_history(stored: str) -> list[HistoryEntry]:
    """History lines as written by the scripts: ``[epoch ms, status, detail, channel]``.

    Split on newlines only: a detail may hold any other line separator (U+2028…).
    """
    entries = []
    for line in stored.split("\n"):
        at, status, *rest = json.loads(line)
        entries.append(
            HistoryEntry(
                at=from_ms(at),
                status=MessageStatus(status),
                detail=(rest[0] or None) if rest else None,
                channel=Channel(rest[1]) if len(rest) > 1 else None,
            )
        )
    return entries


WEEK = 7 * 86400


def recipient_week(keep_until: datetime, now: datetime) -> tuple[int, int]:
    """The week whose recipient index lists a message kept until ``keep_until``, and the
    seconds from ``now`` until that week ends, when the index may expire.

    One index per week rather than one key per recipient: a hash field per recipient costs
    far less than a key, and whole weeks expire on their own, with no sweeper.
    """
    week = -(-int(keep_until.timestamp()) // WEEK)  # the week ending at or after keep_until
    return week, week * WEEK - int(now.timestamp())


def record_from(message_id: str, fields: dict[str, str]) -> MessageRecord:
    """A message's stored hash as a record."""
    message = PlannedMessage.model_validate_json(fields["body"])
    history = decode_history(fields["history"])
    return MessageRecord(
        id=message_id,
        status=history[-1].status,  # as the scripts read it: see status_in
        due_at=from_ms(int(fields["due"])) if "due" in fields else message.due_at,
        attempts=int(fields.get("attempts", 0)),
        message=message,
        history=history,
        discreet=fields["discreet"] == "1" if "discreet" in fields else None,
        calls=int(fields.get("calls", 0)),  # counted by provider_call.lua (from 2026-11-30)
    )


def recipient_hash(tenant: str, recipient_id: str) -> str:
    """The key of a recipient's hash (:mod:`notifier.store.recipients`)."""
    return f"{PREFIX}recipient:{recipient_key(tenant, recipient_id)}"


def idem_key(idempotency_key: str) -> str:
    return f"{PREFIX}idem:{idempotency_key}"


def patient_retry(seconds: float) -> Retry:
    """Retry a command on connection errors for about ``seconds``, polling at most every second.

    Every script here is safe to run again after a lost reply: each checks the claim (and
    the attempt) it is given, and counts a message in a cap window once.
    """
    backoff = ExponentialBackoff(cap=1.0, base=0.05)
    return Retry(backoff, retries=round(seconds) + 5 if seconds > 0 else 0)
