"""The schedule store: every pending message lives in Redis, not in a broker or a worker.

Layout (all keys under ``notifier:``):

``due``                 sorted set, message id → due time (epoch ms)
``inflight``            sorted set, message id → lease expiry (epoch ms) of a claimed message
``msg:{id}``            hash: body (the planned message as JSON), status, claim, attempts,
                        rule, subject, due, recipient, and ``history``: its JSON status
                        entries, one per line, oldest first (in the hash rather than a key
                        of its own: about 80 bytes less per pending message)
``subject:{subject}``   set of the subject's message ids not yet final
``idem:{client}:{id}``  hash: the answer given to an accepted event (idempotency)

Every state change is one Lua script, so it is atomic with regard to every other process:
several API instances, schedulers and workers can share one server. The ``claim`` counter
is a fencing token: each claim increments it, and a worker may only move a message it holds
the current claim of, so a stale or duplicated broker message can never send twice.

Scripts compute some key names themselves, which a Redis Cluster would refuse; a single
server (or Sentinel) is what the design card asks for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from notifier.models import HistoryEntry, MessageStatus, Plan, PlannedMessage

PREFIX = "notifier:"

# The server is down, unreachable, or still loading its data after a restart: try later.
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError)

_LUA_HELPERS = """
local prefix = 'PREFIX'
local function mkey(id) return prefix .. 'msg:' .. id end
local function history(id, now_iso, status, detail, channel)
  local entry = {at = now_iso, status = status}
  if detail ~= nil and detail ~= '' then entry['detail'] = detail end
  if channel ~= nil and channel ~= '' then entry['channel'] = channel end
  local past = redis.call('HGET', mkey(id), 'history')
  redis.call('HSET', mkey(id), 'history', (past and past .. '\\n' or '') .. cjson.encode(entry))
end
local function finalize(id, retention)
  redis.call('ZREM', prefix .. 'due', id)
  redis.call('ZREM', prefix .. 'inflight', id)
  local subject = redis.call('HGET', mkey(id), 'subject')
  if subject then redis.call('SREM', prefix .. 'subject:' .. subject, id) end
  redis.call('EXPIRE', mkey(id), retention)
end
local pending = {scheduled = true, queued = true, ['temporary-failure'] = true}
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The recipient's message index (for erasure) lives as long as its longest-lived message
-- record may (see index_ttl), and no more.
local function index_for_recipient(recipient, id, keep)
  local key = prefix .. 'recipient:' .. recipient .. ':messages'
  redis.call('SADD', key, id)
  if redis.call('TTL', key) < tonumber(keep) then redis.call('EXPIRE', key, keep) end
end
""".replace("PREFIX", PREFIX)

# KEYS[1] idempotency key. ARGV: idem ttl, now iso, retention, answer json,
# n cancellations, (subject, rule or '', reason)*, n messages,
# (id, due ms, subject, rule, body, recipient id, recipient index ttl s)*
_ACCEPT = (
    _LUA_HELPERS
    + """
local existing = redis.call('HMGET', KEYS[1], 'answer', 'cancelled')
if existing[1] then return {0, existing[1], existing[2]} end
local now_iso, retention = ARGV[2], tonumber(ARGV[3])
local i = 6
local cancelled = {}
for _ = 1, tonumber(ARGV[5]) do
  local subject, rule, reason = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local skey = prefix .. 'subject:' .. subject
  if rule ~= '' then
    redis.call('SET', prefix .. 'stopped:' .. subject .. ':' .. rule, 1, 'EX', tonumber(ARGV[1]))
  end
  for _, id in ipairs(redis.call('SMEMBERS', skey)) do
    local f = redis.call('HMGET', mkey(id), 'rule', 'status')
    if not f[2] then
      redis.call('SREM', skey, id)
    elseif (rule == '' or f[1] == rule) and pending[f[2]] then
      redis.call('HSET', mkey(id), 'status', 'cancelled')
      history(id, now_iso, 'cancelled', reason)
      finalize(id, retention)
      table.insert(cancelled, id)
    end
  end
end
local count = tonumber(ARGV[i])
i = i + 1
for _ = 1, count do
  local id, due, subject, rule, body = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local recipient = ARGV[i + 5]
  index_for_recipient(recipient, id, ARGV[i + 6])
  i = i + 7
  redis.call('DEL', mkey(id), prefix .. 'stopped:' .. subject .. ':' .. rule)
  redis.call('HSET', mkey(id), 'body', body, 'status', 'scheduled', 'claim', 0,
             'attempts', 0, 'rule', rule, 'subject', subject, 'due', due, 'recipient', recipient)
  redis.call('ZADD', prefix .. 'due', due, id)
  redis.call('SADD', prefix .. 'subject:' .. subject, id)
  history(id, now_iso, 'scheduled')
end
local joined = table.concat(cancelled, ',')
redis.call('HSET', KEYS[1], 'answer', ARGV[4], 'cancelled', joined)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return {1, ARGV[4], joined}
"""
)

# ARGV: now ms, now iso, limit, lease ms. Returns a flat list id, claim, id, claim...
_CLAIM = (
    _LUA_HELPERS
    + """
local ids = redis.call('ZRANGEBYSCORE', prefix .. 'due', '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local out = {}
local lease_until = tonumber(ARGV[1]) + tonumber(ARGV[4])
for _, id in ipairs(ids) do
  redis.call('ZREM', prefix .. 'due', id)
  if redis.call('EXISTS', mkey(id)) == 1 then
    local claim = redis.call('HINCRBY', mkey(id), 'claim', 1)
    redis.call('HSET', mkey(id), 'status', 'queued')
    redis.call('ZADD', prefix .. 'inflight', lease_until, id)
    history(id, ARGV[2], 'queued')
    table.insert(out, id)
    table.insert(out, claim)
  end
end
return out
"""
)

# ARGV: now ms, now iso, limit. Expired leases go back to the schedule, due now.
_REAP = (
    _LUA_HELPERS
    + """
local ids = redis.call('ZRANGEBYSCORE', prefix .. 'inflight', '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  redis.call('ZREM', prefix .. 'inflight', id)
  local status = redis.call('HGET', mkey(id), 'status')
  if status == 'queued' or status == 'sending' then
    redis.call('HSET', mkey(id), 'status', 'scheduled')
    redis.call('ZADD', prefix .. 'due', ARGV[1], id)
    history(id, ARGV[2], 'scheduled', 'claim lease expired while ' .. status .. '; rescheduled')
  end
end
return #ids
"""
)

# ARGV: now ms, now iso, then (id, claim)*. Claims the broker may not have received go back
# to the schedule; the next claim gets a new token, so a copy that did arrive is stale.
_RELEASE = (
    _LUA_HELPERS
    + """
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local f = redis.call('HMGET', mkey(id), 'status', 'claim')
  if f[1] == 'queued' and f[2] == ARGV[i + 1] then
    redis.call('HSET', mkey(id), 'status', 'scheduled')
    redis.call('ZREM', prefix .. 'inflight', id)
    redis.call('ZADD', prefix .. 'due', ARGV[1], id)
    history(id, ARGV[2], 'scheduled', 'enqueue failed; claimed again')
  end
end
return 1
"""
)

# ARGV: id, claim, now ms, now iso, lease ms, attempt token, call window ms. With the message,
# the registered recipient's hash (current contacts and choices), saving a round trip.
# A provider call marked less than the call window ago may still be under way in another
# attempt (Dramatiq redelivers the messages of a worker it believes dead, which after a Redis
# outage may be alive): 'busy' with the milliseconds left, and this attempt takes nothing
# over. The mark's age is measured on the server's clock: it is stamped when it lands, which
# may be long after the worker asked for it (a worker waits out an outage).
_BEGIN_SEND = (
    _LUA_HELPERS
    + """
local id = ARGV[1]
local f = redis.call('HMGET', mkey(id), 'status', 'claim', 'body', 'attempts', 'provider_call',
                    'excluded', 'provider_call_at', 'recipient')
if not f[1] then return {'missing'} end
if f[2] ~= ARGV[2] then return {'stale', f[1]} end
if f[1] ~= 'queued' and f[1] ~= 'sending' then return {'final', f[1]} end
if f[5] then
  local left = tonumber(f[7] or 0) + tonumber(ARGV[7]) - server_ms()
  if left > 0 then return {'busy', left} end
end
local detail = nil
if f[1] == 'sending' then detail = 'redelivered after an interrupted attempt' end
redis.call('HSET', mkey(id), 'status', 'sending', 'attempt', ARGV[6])
redis.call('ZADD', prefix .. 'inflight', tonumber(ARGV[3]) + tonumber(ARGV[5]), id)
history(id, ARGV[4], 'sending', detail)
local recipient = f[8] or cjson.decode(f[3])['recipient']['id']
local registered = redis.call('HGETALL', prefix .. 'recipient:' .. recipient)
return {'ok', f[3], f[4], f[5] or '', f[6] or '', registered}
"""
)

# KEYS: cap counters (sliding windows). ARGV: id, claim, attempt token, channel, now ms, then
# (max, period ms) per key. Marks a provider call about to start, and counts the message in
# every window (once: a message already counted passes again), if this attempt still owns the
# message (a later attempt of the same claim takes it over). Returns 1 if marked, 0 if taken
# over, -i if window i is full (then nothing is counted or marked).
_PROVIDER_CALL = (
    _LUA_HELPERS
    + """
local id, now = ARGV[1], tonumber(ARGV[5])
local f = redis.call('HMGET', mkey(id), 'claim', 'attempt')
if f[1] ~= ARGV[2] or f[2] ~= ARGV[3] then return 0 end
for i, key in ipairs(KEYS) do
  local max, period = tonumber(ARGV[4 + 2 * i]), tonumber(ARGV[5 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  if redis.call('ZCARD', key) >= max and redis.call('ZSCORE', key, id) == false then
    return -i
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, id)
  redis.call('PEXPIRE', key, tonumber(ARGV[5 + 2 * i]))
end
redis.call('HSET', mkey(id), 'provider_call', ARGV[4], 'provider_call_at', server_ms())
return 1
"""
)

# ARGV: id, at iso, status, detail, channel. An entry that changes nothing else.
_NOTE = (
    _LUA_HELPERS
    + """
if redis.call('EXISTS', mkey(ARGV[1])) == 1 then
  history(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
end
return 1
"""
)

# ARGV: id, claim, status, now iso, detail, channel, retention s, retry at ms ('' if final),
# provider reference ('' if none), then optionally the next occurrence of a series:
# id, due ms, subject, rule, body, recipient id, recipient index ttl s.
# A series whose rule was cancelled on its subject meanwhile gets no next occurrence.
_FINISH = (
    _LUA_HELPERS
    + """
local id = ARGV[1]
local f = redis.call('HMGET', mkey(id), 'claim', 'status')
if f[1] ~= ARGV[2] then return 0 end
-- two attempts of one claim may both finish (see _BEGIN_SEND): a send, once recorded, stays
if f[2] == 'sent' and ARGV[3] ~= 'sent' then return 0 end
redis.call('HSET', mkey(id), 'status', ARGV[3])
redis.call('HDEL', mkey(id), 'provider_call', 'provider_call_at')
if ARGV[9] ~= '' then redis.call('HSET', mkey(id), 'reference', ARGV[9]) end
history(id, ARGV[4], ARGV[3], ARGV[5], ARGV[6])
if ARGV[10] then
  local nid, due, subject, rule, body = ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]
  if redis.call('EXISTS', prefix .. 'stopped:' .. subject .. ':' .. rule) == 0 then
    redis.call('DEL', mkey(nid))
    redis.call('HSET', mkey(nid), 'body', body, 'status', 'scheduled', 'claim', 0,
               'attempts', 0, 'rule', rule, 'subject', subject, 'due', due,
               'recipient', ARGV[15])
    redis.call('ZADD', prefix .. 'due', due, nid)
    redis.call('SADD', prefix .. 'subject:' .. subject, nid)
    index_for_recipient(ARGV[15], nid, ARGV[16])
    history(nid, ARGV[4], 'scheduled', 'next in series after ' .. id)
  end
end
if ARGV[8] ~= '' then
  if ARGV[3] == 'temporary-failure' then redis.call('HINCRBY', mkey(id), 'attempts', 1) end
  redis.call('ZREM', prefix .. 'inflight', id)
  redis.call('ZADD', prefix .. 'due', ARGV[8], id)
  redis.call('HSET', mkey(id), 'due', ARGV[8])
else
  finalize(id, tonumber(ARGV[7]))
end
return 1
"""
)


@dataclass(frozen=True)
class CapLimit:
    """At most ``max`` messages within any ``period`` for one counter ``key``."""

    key: str
    max: int
    period: timedelta


# A provider's delivery receipt. ARGV: id, 'delivered' or 'failed', channel, now iso, now ms,
# detail, reference. A failure re-opens a sent message for its next channel, due now.
_RECEIPT = (
    _LUA_HELPERS
    + """
local id, outcome, channel = ARGV[1], ARGV[2], ARGV[3]
local f = redis.call('HMGET', mkey(id), 'status', 'subject', 'excluded', 'reference')
if not f[1] then return 'missing' end
if f[4] and ARGV[7] ~= '' and f[4] ~= ARGV[7] then return 'other-attempt' end
if outcome == 'delivered' then
  if f[1] ~= 'sent' then return 'ignored' end
  redis.call('HSET', mkey(id), 'status', 'delivered')
  history(id, ARGV[4], 'delivered', ARGV[6], channel)
  return 'delivered'
end
if f[1] ~= 'sent' and f[1] ~= 'delivered' then return 'ignored' end
local excluded = f[3] and (f[3] .. ',' .. channel) or channel
redis.call('HSET', mkey(id), 'status', 'scheduled', 'excluded', excluded, 'due', ARGV[5])
redis.call('HDEL', mkey(id), 'reference')
redis.call('PERSIST', mkey(id))
redis.call('ZADD', prefix .. 'due', ARGV[5], id)
redis.call('SADD', prefix .. 'subject:' .. f[2], id)
history(id, ARGV[4], 'scheduled', 'not delivered on ' .. channel .. ': ' .. ARGV[6] ..
        '; trying the next channel', channel)
return 'fallback'
"""
)


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


def planned_summary(message: PlannedMessage) -> dict[str, Any]:
    """What the API answers about a planned message: no personal data, just the plan."""
    return {
        "id": message.id,
        "rule": message.rule,
        "due_at": message.due_at.isoformat(),
        "channels": [c.value for c in message.channels],
    }


def idem_key(idempotency_key: str) -> str:
    return f"{PREFIX}idem:{idempotency_key}"


def patient_retry(seconds: float) -> Retry:
    """Retry a command on connection errors for about ``seconds``, polling at most every second.

    Every script here is safe to run again after a lost reply: each checks the claim (and
    the attempt) it is given, and counts a message in a cap window once.
    """
    backoff = ExponentialBackoff(cap=1.0, base=0.05)
    return Retry(backoff, retries=round(seconds) + 5 if seconds > 0 else 0)


class Store:
    """All of the engine's Redis I/O, behind methods that each do one atomic step."""

    def __init__(self, client: redis.Redis, *, retention: timedelta = timedelta(days=30)) -> None:
        self.redis = client
        self.retention_seconds = int(retention.total_seconds())
        self._accept = client.register_script(_ACCEPT)
        self._claim = client.register_script(_CLAIM)
        self._reap = client.register_script(_REAP)
        self._release = client.register_script(_RELEASE)
        self._begin_send = client.register_script(_BEGIN_SEND)
        self._provider_call = client.register_script(_PROVIDER_CALL)
        self._note = client.register_script(_NOTE)
        self._finish = client.register_script(_FINISH)
        self._receipt = client.register_script(_RECEIPT)

    @classmethod
    def from_url(
        cls, url: str, *, retention: timedelta = timedelta(days=30), outage_wait: float = 0.0
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
        return cls(client, retention=retention)

    def ping(self) -> bool:
        return bool(self.redis.ping())

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
        if len(plans) == 1:
            ((idempotency_key, plan),) = plans
            args = self._accept_args(plan, now, ttl)
            replies = [self._accept(keys=[idem_key(idempotency_key)], args=args)]
        else:
            pipe = self.redis.pipeline(transaction=False)
            for idempotency_key, plan in plans:
                self._accept(
                    keys=[idem_key(idempotency_key)],
                    args=self._accept_args(plan, now, ttl),
                    client=pipe,
                )
            replies = pipe.execute()
        return [
            Accepted(
                duplicate=not int(fresh),
                planned=(stored := json.loads(answer_json))["planned"],
                skipped=stored["skipped"],
                cancelled=[c for c in (cancelled or "").split(",") if c],
            )
            for fresh, answer_json, cancelled in replies
        ]

    def index_ttl(self, message: PlannedMessage, now: datetime) -> int:
        """Seconds a recipient's message index must keep ``message``: until it is due, a week
        of retries and quiet hours at most, then the retention of its record."""
        until_due = max(0, int((message.due_at - now).total_seconds()))
        return until_due + 7 * 86400 + self.retention_seconds

    def _accept_args(self, plan: Plan, now: datetime, ttl: int) -> list[Any]:
        answer = json.dumps(
            {
                "planned": [planned_summary(m) for m in plan.messages],
                "skipped": [s.model_dump() for s in plan.skipped],
            }
        )
        args: list[Any] = [ttl, now.isoformat(), self.retention_seconds, answer]
        args.append(len(plan.cancellations))
        for c in plan.cancellations:
            args += [c.subject, c.rule or "", c.reason]
        args.append(len(plan.messages))
        for m in plan.messages:
            args += [
                m.id,
                to_ms(m.due_at),
                m.subject,
                m.rule,
                m.model_dump_json(),
                m.recipient.id,
                self.index_ttl(m, now),
            ]
        return args

    def claim_due(self, now: datetime, *, limit: int, lease: timedelta) -> list[Claimed]:
        flat = self._claim(
            args=[to_ms(now), now.isoformat(), limit, int(lease.total_seconds() * 1000)]
        )
        return [Claimed(flat[i], int(flat[i + 1])) for i in range(0, len(flat), 2)]

    def reap_expired(self, now: datetime, *, limit: int = 1000) -> int:
        """Return messages whose claim lease ran out to the schedule; how many were seen."""
        return int(self._reap(args=[to_ms(now), now.isoformat(), limit]))

    def release(self, claims: list[Claimed], now: datetime) -> None:
        """Return claims that may not have reached the broker to the schedule, due now."""
        args: list[Any] = [to_ms(now), now.isoformat()]
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
                now.isoformat(),
                int(lease.total_seconds() * 1000),
                attempt,
                int(call_window.total_seconds() * 1000),
            ]
        )
        if result[0] == "busy":
            return Busy(timedelta(milliseconds=int(result[1])))
        if result[0] != "ok":
            return None
        return SendLease(
            PlannedMessage.model_validate_json(result[1]),
            int(result[2]),
            result[3] or None,
            frozenset(c for c in result[4].split(",") if c),
            dict(zip(result[5][::2], result[5][1::2], strict=True)),
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
        result = int(self._provider_call(keys=keys, args=args))
        if result == 0:
            raise TakenOver(message_id)
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
    ) -> bool:
        """Record the outcome of an attempt; ``retry_at`` puts the message back in the schedule.

        ``following`` (the next occurrence of a series) is scheduled in the same step, unless
        the series was cancelled on its subject meanwhile.
        """
        args: list[Any] = [
            message_id,
            claim,
            status.value,
            now.isoformat(),
            detail,
            channel,
            self.retention_seconds,
            to_ms(retry_at) if retry_at else "",
            reference,
        ]
        if following is not None:
            args += [
                following.id,
                to_ms(following.due_at),
                following.subject,
                following.rule,
                following.model_dump_json(),
                following.recipient.id,
                self.index_ttl(following, now),
            ]
        return bool(self._finish(args=args))

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
            now.isoformat(),
            to_ms(now),
            detail,
            reference,
        ]
        return str(self._receipt(args=args))

    def note(self, message_id: str, entry: HistoryEntry) -> None:
        """Add an entry to a message's history without changing its status (a failed channel)."""
        self._note(
            args=[
                message_id,
                entry.at.isoformat(),
                entry.status.value,
                entry.detail or "",
                entry.channel.value if entry.channel else "",
            ]
        )

    def get(self, message_id: str) -> MessageRecord | None:
        fields: dict[str, str] = self.redis.hgetall(f"{PREFIX}msg:{message_id}")  # type: ignore[assignment]
        if not fields:
            return None
        history = fields.get("history", "").splitlines()
        return MessageRecord(
            id=message_id,
            status=MessageStatus(fields["status"]),
            due_at=from_ms(int(fields["due"])),
            attempts=int(fields["attempts"]),
            message=PlannedMessage.model_validate_json(fields["body"]),
            history=[HistoryEntry.model_validate_json(entry) for entry in history],
        )

    def next_due(self) -> datetime | None:
        first = self.redis.zrange(f"{PREFIX}due", 0, 0, withscores=True)
        return from_ms(float(first[0][1])) if first else None

    def pending_count(self) -> int:
        return int(self.redis.zcard(f"{PREFIX}due"))
