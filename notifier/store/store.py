"""The store's one class: every read and atomic step of the engine's schedule in Redis."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from notifier.models import (
    Channel,
    MessageStatus,
    PlannedMessage,
)
from notifier.rules.plans import Plan
from notifier.store import aio
from notifier.store.arguments import PlanArguments
from notifier.store.codec import (
    CHANNELS_OFF,
    LAYOUT,
    PREFIX,
    Accepted,
    Busy,
    CapLimit,
    Claimed,
    MessageRecord,
    SendLease,
    TakenOver,
    decode_answer,
    from_ms,
    idem_key,
    patient_retry,
    record_from,
    to_ms,
)
from notifier.store.durable import Replication
from notifier.store.scripts import register


class Store:
    """All of the engine's Redis I/O, behind methods that each do one atomic step."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        retention: timedelta = timedelta(days=30),
        contact_key: bytes | None = None,
        replicas: int = 0,
        wait: timedelta = timedelta(seconds=1),
        patience: float = 0.0,
        connect_async: aio.Connect | None = None,
    ) -> None:
        """``replicas`` must hold each durable write (accept, provider call, finish) within
        ``wait``; ``patience``: how long to try again (:mod:`notifier.store.durable`).
        ``connect_async`` makes an asyncio client of the same server, for the API's single
        events (:mod:`notifier.store.aio`)."""
        self.redis = client
        self.connect_async = connect_async
        self.replication = Replication(replicas, wait, patience)
        self.retention_seconds = int(retention.total_seconds())
        self.arguments = PlanArguments(self.retention_seconds, contact_key)
        scripts = register(
            client,
            "accept",
            "claim",
            "reap",
            "release",
            "begin_send",
            "provider_call",
            "note",
            "finish",
            "receipt",
            "support",
        )
        self._accept, self._claim, self._reap, self._release = (
            scripts["accept"],
            scripts["claim"],
            scripts["reap"],
            scripts["release"],
        )
        self._begin_send, self._provider_call = scripts["begin_send"], scripts["provider_call"]
        self._note, self._finish = scripts["note"], scripts["finish"]
        self._receipt, self._support = scripts["receipt"], scripts["support"]

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        retention: timedelta = timedelta(days=30),
        outage_wait: float = 0.0,
        contact_key: bytes | None = None,
    ) -> Store:
        """A store on ``url``; with ``outage_wait``, each command waits that long for Redis.

        Workers wait: a delivery half done when Redis stops resumes where it was once the
        server is back, instead of failing into Dramatiq's retries (minutes of backoff). The
        API does not: it answers 503 at once.
        """
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            health_check_interval=30,
            socket_timeout=10,
            retry=patient_retry(outage_wait),
        )
        return cls(
            client,
            retention=retention,
            contact_key=contact_key,
            connect_async=aio.from_url(url),
        )

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def check_layout(self) -> None:
        """Mark a new server with this layout; refuse a schedule written in another one.

        Scripts would misread it (a message whose history they cannot parse looks missing,
        and would be skipped), so the API and the scheduler stop at start-up instead.
        """
        key = f"{PREFIX}layout"
        if self.redis.get(key) is None and not self.redis.exists(
            f"{PREFIX}due", f"{PREFIX}inflight"
        ):
            self.redis.set(key, LAYOUT, nx=True)
        found: str | None = self.redis.get(key)  # type: ignore[assignment]
        if found != LAYOUT:
            raise RuntimeError(
                f"this Redis holds a schedule written by another version of notifier (layout "
                f"{found or 1}; this version reads layout {LAYOUT}). Let it finish with that "
                "version, or start from an empty database (for `make run`: delete var/)."
            )

    def accept(self, idempotency_key: str, plan: Plan, now: datetime, *, ttl: int) -> Accepted:
        """Store a plan and remember its answer under ``idempotency_key``, in one step.

        If the key is already known, nothing changes and the first answer is returned.
        """
        return self.accept_many([(idempotency_key, plan)], now, ttl=ttl)[0]

    def accept_many(
        self, plans: list[tuple[str, Plan]], now: datetime, *, ttl: int
    ) -> list[Accepted]:
        """:meth:`accept` for many plans in one round trip; each is still its own atomic step.

        One plan goes straight to the script: a pipeline first asks the server whether its
        scripts are loaded, a second round trip that halved the single-event rate.
        """
        replies = self.replication.durably(self.redis, lambda: self._run_accept(plans, now, ttl))
        return [decode_answer(reply, plan) for reply, (_, plan) in zip(replies, plans, strict=True)]

    def _run_accept(self, plans: list[tuple[str, Plan]], now: datetime, ttl: int) -> list[Any]:
        if len(plans) == 1:
            ((idempotency_key, plan),) = plans
            args = self.arguments.accept(plan, now, ttl)
            return [self._accept(keys=[idem_key(idempotency_key)], args=args)]
        pipe = self.redis.pipeline(transaction=False)
        for idempotency_key, plan in plans:
            self._accept(
                keys=[idem_key(idempotency_key)],
                args=self.arguments.accept(plan, now, ttl),
                client=pipe,
            )
        return pipe.execute()

    def claim_due(self, now: datetime, *, limit: int, lease: timedelta) -> list[Claimed]:
        flat = self._claim(args=[to_ms(now), limit, int(lease.total_seconds() * 1000)])
        return [Claimed(flat[i], int(flat[i + 1])) for i in range(0, len(flat), 2)]

    def reap_expired(self, now: datetime, *, limit: int = 1000) -> int:
        """Return messages whose claim lease ran out to the schedule; how many were seen."""
        return int(self._reap(args=[to_ms(now), limit]))

    def release(self, claims: list[Claimed], now: datetime) -> None:
        """Return claims that may not have reached the broker to the schedule, due now."""
        args: list[Any] = [to_ms(now)]
        for item in claims:
            args += [item.message_id, item.claim]
        self._release(args=args)

    def begin_send(
        self,
        message_id: str,
        claim: int,
        now: datetime,
        *,
        lease: timedelta,
        attempt: str,
        call_window: timedelta = timedelta(0),
    ) -> SendLease | Busy | None:
        """Mark the message as being sent by ``attempt``, if ``claim`` is current and not final.

        :class:`Busy` if another attempt marked a provider call less than ``call_window`` ago:
        it may still be running, and only it knows whether the message went out.
        """
        result = self._begin_send(
            args=[
                message_id,
                claim,
                to_ms(now),
                int(lease.total_seconds() * 1000),
                attempt,
                int(call_window.total_seconds() * 1000),
            ]
        )
        if result[0] == "busy":
            return Busy(timedelta(milliseconds=int(result[1])))
        if result[0] != "ok":
            return None
        message = PlannedMessage.model_validate_json(result[1])
        return SendLease(
            message,
            int(result[2]),
            result[3] or None,
            frozenset(c for c in result[4].split(",") if c),
            dict(zip(result[5][::2], result[5][1::2], strict=True)),
            from_ms(int(result[6])) if result[6] else message.due_at,
            result[7] == "1" if result[7] else None,
        )

    def provider_call(
        self,
        message_id: str,
        claim: int,
        attempt: str,
        channel: str,
        now: datetime,
        caps: Sequence[CapLimit] = (),
    ) -> CapLimit | None:
        """Mark a provider call about to start and count the message in its ``caps``.

        Returns the first full cap instead (nothing marked or counted); raises
        :class:`TakenOver` if a later attempt owns the message now. :meth:`finish` clears the
        mark. A worker killed between the two leaves it behind: the redelivered message then
        knows the provider may already have sent it.
        """
        args: list[Any] = [message_id, claim, attempt, channel, to_ms(now)]
        for cap in caps:
            args += [cap.max, int(cap.period.total_seconds() * 1000)]
        keys = [f"{PREFIX}cap:{cap.key}" for cap in caps]

        def mark() -> int:
            result = int(self._provider_call(keys=keys, args=args))
            if result == 0:
                raise TakenOver(message_id)
            return result

        result = self.replication.durably(self.redis, mark)
        return caps[-result - 1] if result < 0 else None

    def finish(
        self,
        message_id: str,
        claim: int,
        status: MessageStatus,
        now: datetime,
        *,
        detail: str = "",
        channel: str = "",
        retry_at: datetime | None = None,
        following: PlannedMessage | None = None,
        reference: str = "",
        exclude: Channel | None = None,
        discreet: bool | None = None,
    ) -> bool:
        """Record the outcome of an attempt; ``retry_at`` puts the message back in the schedule.

        ``following`` (the next occurrence of a series) is scheduled in the same step, unless
        the series was cancelled on its subject meanwhile. ``exclude`` closes a channel for
        this message (its retries ran out) and starts the count of attempts afresh. A send
        records whether it went in the discreet wording, when known
        (:attr:`MessageRecord.discreet`).
        """
        args: list[Any] = [
            message_id,
            claim,
            status.value,
            to_ms(now),
            detail,
            channel,
            self.retention_seconds,
            to_ms(retry_at) if retry_at else "",
            reference,
            exclude.value if exclude else "",
            "" if discreet is None else "1" if discreet else "0",
        ]
        if following is not None:
            args += self.arguments.message(following, now)
        return bool(self.replication.durably(self.redis, lambda: self._finish(args=args)))

    def receipt(
        self,
        message_id: str,
        *,
        delivered: bool,
        channel: str,
        now: datetime,
        detail: str = "",
        reference: str = "",
    ) -> str:
        """Apply a provider's delivery receipt; what it did: delivered, fallback, ignored…

        ``reference`` (the provider's id) guards against a late receipt of an earlier
        attempt on another channel.
        """
        outcome = "delivered" if delivered else "failed"
        args: list[Any] = [
            message_id,
            outcome,
            channel,
            to_ms(now),
            detail,
            reference,
        ]
        return str(self._receipt(args=args))

    def note(self, message_id: str, at: datetime, detail: str, channel: Channel) -> None:
        """Add an entry to a message's history without changing its status (a failed channel).

        The entry carries the status the message has when it lands, whatever the worker
        believed: a status is the last entry's, so a note must never move it.
        """
        self._note(args=[message_id, to_ms(at), detail, channel.value])

    def get(self, message_id: str) -> MessageRecord | None:
        return self.get_many([message_id])[0]

    def get_many(self, message_ids: Sequence[str]) -> list[MessageRecord | None]:
        """The records of ``message_ids`` (None for one that is gone), in one round trip."""
        replies: list[dict[str, str]]
        if len(message_ids) == 1:  # no pipeline: one command is one round trip already
            replies = [self.redis.hgetall(f"{PREFIX}msg:{message_ids[0]}")]  # type: ignore[list-item]
        else:
            pipe = self.redis.pipeline(transaction=False)
            for message_id in message_ids:
                pipe.hgetall(f"{PREFIX}msg:{message_id}")
            replies = pipe.execute()
        return [
            record_from(message_id, fields) if fields else None
            for message_id, fields in zip(message_ids, replies, strict=True)
        ]

    def support(
        self, message_id: str, action: str, now: datetime, detail: str
    ) -> tuple[str, bool] | None:
        """A support agent cancels a pending message, or sends a failed one again (``action``
        is ``cancel`` or ``resend``; ``unhold`` schedules a withheld one again, when the person
        resumes contact and asks for what they missed; ``detail`` goes into its history): the
        status it had and whether it acted, or None if there is no such message. A message in
        another state is left as it is."""
        found = self._support(
            args=[message_id, action, to_ms(now), detail[:500], self.retention_seconds]
        )
        return None if found[0] == "missing" else (str(found[0]), bool(int(found[1])))

    def set_channel_off(self, channel: str, reason: str, at: datetime) -> None:
        """A worker stopped ``channel``: its provider refused our configuration."""
        record = json.dumps({"reason": reason, "since": at.astimezone(UTC).isoformat()})
        self.redis.hset(CHANNELS_OFF, channel, record)

    def clear_channels_off(self, channels: Sequence[str]) -> None:
        """A worker starts with these channels configured: whatever stopped them is fixed, or
        will be found again at its first send."""
        if channels:
            self.redis.hdel(CHANNELS_OFF, *channels)

    def channels_off(self) -> dict[str, dict[str, str]]:
        """Channels a worker stopped, with why and since when."""
        stored: dict[str, str] = self.redis.hgetall(CHANNELS_OFF)  # type: ignore[assignment]
        return {channel: json.loads(record) for channel, record in sorted(stored.items())}

    def schedule_stats(self, now: datetime) -> tuple[int, int, float | None]:
        """Messages in the schedule, how many are overdue, the due time (ms) of the oldest."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(f"{PREFIX}due")
        pipe.zcount(f"{PREFIX}due", "-inf", to_ms(now))
        pipe.zrange(f"{PREFIX}due", 0, 0, withscores=True)
        size, overdue, first = pipe.execute()
        oldest = float(first[0][1]) if first and int(overdue) else None
        return int(size), int(overdue), oldest

    def failures_since(self, since: datetime) -> list[MessageRecord]:
        """Messages that ended as a failure (or expired) since ``since``, newest first."""
        ids: list[str] = self.redis.zrevrangebyscore(f"{PREFIX}failures", "+inf", to_ms(since))  # type: ignore[assignment]
        return [r for r in self.get_many(ids) if r is not None]

    def next_due(self) -> datetime | None:
        first = self.redis.zrange(f"{PREFIX}due", 0, 0, withscores=True)
        return from_ms(float(first[0][1])) if first else None

    def pending_count(self) -> int:
        return int(self.redis.zcard(f"{PREFIX}due"))
