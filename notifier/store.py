"""The schedule store: every pending message lives in Redis, not in a broker or a worker.

Layout (all keys under ``notifier:``), shaped by what a pending message costs: a key of its
own is about 80 bytes of bookkeeping before any content, so what can share a hash does.

``due``                 sorted set, message id → due time (epoch ms)
``inflight``            sorted set, message id → lease expiry (epoch ms) of a claimed message
``msg:{id}``            hash: ``body`` (the planned message as JSON, null fields left out) and
                        ``history``, one JSON array per line, oldest first: ``[epoch ms,
                        status, detail, channel]`` (trailing blanks left out). The status of
                        the last entry is the message's status: there is no other copy.
                        Only once they differ from a fresh message: ``claim`` (0),
                        ``attempts`` (0), ``due`` (the body's due_at), ``attempt``,
                        ``provider_call``, ``provider_call_at``, ``excluded``, ``reference``.
                        Rule, subject and recipient are read from the body.
``subjects``            hash: ``{tenant}|{subject}`` → comma-separated ids of its messages
                        not yet final (a subject is one procedure: a handful of messages,
                        whose list each change copies). Scoped by tenant: a client's events
                        never find another tenant's messages (:func:`subject_key`).
``recipients:{week}``   hash: recipient id → comma-separated ids of the messages naming them
                        that may be kept into that week; expires when the week ends (see
                        :func:`recipient_week`). ``recipient-weeks``: the weeks, for erasure.
``contacts:{week}``     hash: keyed hash of a phone or e-mail (:mod:`notifier.digest`) →
                        recipient ids, so that support finds a person by contact, never
                        stored in clear; same weeks and expiry as ``recipients:{week}``
``idem:{client}:{id}``  string: the ids an accepted event planned, what it skipped, the ids
                        it cancelled (see :func:`encode_answer`), for its replays
``stopped:{tenant}|{subject}:{rule}``  a series cancelled on its subject (no next one)
``channels-off``        hash: channel → why and since when a worker stopped it (credentials
                        refused); cleared by a worker starting with that channel
``failures``            sorted set, message id → when it ended as a failure or expired, the
                        last 24 h only (trimmed at each new one): the console's overview
``layout``              this layout's version, :data:`LAYOUT` (see :meth:`Store.check_layout`)

Every state change is one Lua script, so it is atomic with regard to every other process:
several API instances, schedulers and workers can share one server. The ``claim`` counter
is a fencing token: each claim increments it, and a worker may only move a message it holds
the current claim of, so a stale or duplicated broker message can never send twice.

Scripts compute some key names themselves, which a Redis Cluster would refuse; a single
server is what this version supports (Sentinel failover is not wired in yet).
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

from notifier.digest import contact_digest
from notifier.models import (
    Channel,
    Contacts,
    HistoryEntry,
    MessageStatus,
    Plan,
    PlannedMessage,
    subject_key,
)

PREFIX = "notifier:"
LAYOUT = "3"  # of the keys above; a version that changes them changes this (check_layout)

CHANNELS_OFF = f"{PREFIX}channels-off"

# The server is down, unreachable, or still loading its data after a restart: try later.
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError)

LUA_HELPERS = """
local prefix, layout = 'PREFIX', 'LAYOUT'
local function mkey(id) return prefix .. 'msg:' .. id end
local function body_of(id)
  local body = redis.call('HGET', mkey(id), 'body')
  return body and cjson.decode(body)
end
-- The subject index's field of a message: see subject_key in notifier/models.py.
local function subject_of(id)
  local body = body_of(id)
  return (body['tenant'] or '') .. '|' .. body['subject']
end
-- Ids listed in a field of a shared hash, comma-separated: a subject or a recipient has a
-- few messages, and a field costs far less than a set of its own.
local function ids_in(key, field)
  local out = {}
  local ids = redis.call('HGET', key, field)
  if ids then for id in string.gmatch(ids, '[^,]+') do table.insert(out, id) end end
  return out
end
local function add_id(key, field, id)
  local ids = redis.call('HGET', key, field)
  if not ids then
    redis.call('HSET', key, field, id)
  elseif not string.find(',' .. ids .. ',', ',' .. id .. ',', 1, true) then
    redis.call('HSET', key, field, ids .. ',' .. id)
  end
end
local function remove_id(key, field, id)
  local kept = {}
  for _, other in ipairs(ids_in(key, field)) do
    if other ~= id then table.insert(kept, other) end
  end
  if #kept == 0 then
    redis.call('HDEL', key, field)
  else
    redis.call('HSET', key, field, table.concat(kept, ','))
  end
end
local function history(id, now_ms, status, detail, channel)
  local entry = '[' .. now_ms .. ',' .. cjson.encode(status)
  local with_channel = channel ~= nil and channel ~= ''
  if with_channel or (detail ~= nil and detail ~= '') then
    entry = entry .. ',' .. cjson.encode(detail or '')
  end
  if with_channel then entry = entry .. ',' .. cjson.encode(channel) end
  local past = redis.call('HGET', mkey(id), 'history')
  redis.call('HSET', mkey(id), 'history', (past and past .. '\\n' or '') .. entry .. ']')
end
-- A message's status is that of the last entry of its history: one source of truth.
local function status_in(history)
  return history and string.match(history, '%[%d+,"([%a-]+)"[^\\n]*$')
end
local function status_of(id) return status_in(redis.call('HGET', mkey(id), 'history')) end
-- Out of the schedule and of its subject's index: nothing will send or cancel it any more.
local function unschedule(id, subject)
  redis.call('ZREM', prefix .. 'due', id)
  redis.call('ZREM', prefix .. 'inflight', id)
  remove_id(prefix .. 'subjects', subject, id)
end
local function finalize(id, subject, retention)
  unschedule(id, subject)
  redis.call('EXPIRE', mkey(id), retention)
end
local pending = {scheduled = true, queued = true, ['temporary-failure'] = true}
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Until the end of ``week``: keys of weekly indexes expire whole, no sweeper needed.
local function keep_until_week_end(key, seconds)
  if redis.call('TTL', key) < tonumber(seconds) then redis.call('EXPIRE', key, seconds) end
end
-- A new message from ARGV[i]: id, due ms, subject, rule, body, recipient id, recipient
-- week, seconds until that week ends, keyed hashes of the recipient's contacts (comma-
-- separated, '' if none; see Store._message_args).
local function schedule(i, now_ms, detail)
  local id, due, subject, week = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 6]
  local recipients = prefix .. 'recipients:' .. week
  redis.call('DEL', mkey(id))
  redis.call('HSET', mkey(id), 'body', ARGV[i + 4])
  redis.call('ZADD', prefix .. 'due', due, id)
  add_id(prefix .. 'subjects', subject, id)
  add_id(recipients, ARGV[i + 5], id)
  keep_until_week_end(recipients, ARGV[i + 7])
  for digest in string.gmatch(ARGV[i + 8], '[^,]+') do
    add_id(prefix .. 'contacts:' .. week, digest, ARGV[i + 5])
    keep_until_week_end(prefix .. 'contacts:' .. week, ARGV[i + 7])
  end
  redis.call('SADD', prefix .. 'recipient-weeks', week)
  history(id, now_ms, 'scheduled', detail)
end
""".replace("PREFIX", PREFIX).replace("LAYOUT", LAYOUT)

# KEYS[1] idempotency key. ARGV: idem ttl, now ms, retention, answer, n cancellations,
# (subject, rule or '', reason)*, n messages, then 9 values per message (see schedule).
# The stored answer is the given one (see encode_answer), a newline, the ids cancelled.
# A known key answers that, and the body of each message it planned ('' if gone since).
_ACCEPT = (
    LUA_HELPERS
    + """
local existing = redis.call('GET', KEYS[1])
if existing then
  local reply = {0, existing}
  for id in string.gmatch(string.match(existing, '^[^\\n]*'), '[^,]+') do
    table.insert(reply, redis.call('HGET', mkey(id), 'body') or '')
  end
  return reply
end
-- a schedule is written in this layout (see Store.check_layout)
redis.call('SET', prefix .. 'layout', layout, 'NX')
local now_ms, retention = ARGV[2], tonumber(ARGV[3])
local i = 6
local cancelled = {}
for _ = 1, tonumber(ARGV[5]) do
  local subject, rule, reason = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  if rule ~= '' then
    redis.call('SET', prefix .. 'stopped:' .. subject .. ':' .. rule, 1, 'EX', tonumber(ARGV[1]))
  end
  for _, id in ipairs(ids_in(prefix .. 'subjects', subject)) do
    local status = status_of(id)
    if not status then
      remove_id(prefix .. 'subjects', subject, id)
    elseif pending[status] and (rule == '' or body_of(id)['rule'] == rule) then
      history(id, now_ms, 'cancelled', reason)
      finalize(id, subject, retention)
      table.insert(cancelled, id)
    end
  end
end
local count = tonumber(ARGV[i])
i = i + 1
for _ = 1, count do
  redis.call('DEL', prefix .. 'stopped:' .. ARGV[i + 2] .. ':' .. ARGV[i + 3])
  schedule(i, now_ms)
  i = i + 9
end
local answer = ARGV[4] .. '\\n' .. table.concat(cancelled, ',')
redis.call('SET', KEYS[1], answer, 'EX', tonumber(ARGV[1]))
return {1, answer}
"""
)

# ARGV: now ms, limit, lease ms. Returns a flat list id, claim, id, claim...
_CLAIM = (
    LUA_HELPERS
    + """
local ids = redis.call('ZRANGEBYSCORE', prefix .. 'due', '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
local lease_until = tonumber(ARGV[1]) + tonumber(ARGV[3])
for _, id in ipairs(ids) do
  redis.call('ZREM', prefix .. 'due', id)
  if redis.call('EXISTS', mkey(id)) == 1 then
    local claim = redis.call('HINCRBY', mkey(id), 'claim', 1)
    redis.call('ZADD', prefix .. 'inflight', lease_until, id)
    history(id, ARGV[1], 'queued')
    table.insert(out, id)
    table.insert(out, claim)
  end
end
return out
"""
)

# ARGV: now ms, limit. Expired leases go back to the schedule, due now.
_REAP = (
    LUA_HELPERS
    + """
local ids = redis.call('ZRANGEBYSCORE', prefix .. 'inflight', '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  redis.call('ZREM', prefix .. 'inflight', id)
  local status = status_of(id)
  if status == 'queued' or status == 'sending' then
    redis.call('HSET', mkey(id), 'due', ARGV[1])
    redis.call('ZADD', prefix .. 'due', ARGV[1], id)
    history(id, ARGV[1], 'scheduled', 'claim lease expired while ' .. status .. '; rescheduled')
  end
end
return #ids
"""
)

# ARGV: now ms, then (id, claim)*. Claims the broker may not have received go back to the
# schedule; the next claim gets a new token, so a copy that did arrive is stale.
_RELEASE = (
    LUA_HELPERS
    + """
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local f = redis.call('HMGET', mkey(id), 'history', 'claim')
  if status_in(f[1]) == 'queued' and f[2] == ARGV[i + 1] then
    redis.call('ZREM', prefix .. 'inflight', id)
    redis.call('ZADD', prefix .. 'due', ARGV[1], id)
    history(id, ARGV[1], 'scheduled', 'enqueue failed; claimed again')
  end
end
return 1
"""
)

# ARGV: id, claim, now ms, lease ms, attempt token, call window ms. With the message, the
# registered recipient's hash (current contacts and choices), saving a round trip.
# A provider call marked less than the call window ago may still be under way in another
# attempt (Dramatiq redelivers the messages of a worker it believes dead, which after a Redis
# outage may be alive): 'busy' with the milliseconds left, and this attempt takes nothing
# over. The mark's age is measured on the server's clock: it is stamped when it lands, which
# may be long after the worker asked for it (a worker waits out an outage).
_BEGIN_SEND = (
    LUA_HELPERS
    + """
local id = ARGV[1]
local f = redis.call('HMGET', mkey(id), 'history', 'claim', 'body', 'attempts', 'provider_call',
                    'excluded', 'provider_call_at', 'due')
local status = status_in(f[1])
if not status then return {'missing'} end
if f[2] ~= ARGV[2] then return {'stale', status} end
if status ~= 'queued' and status ~= 'sending' then return {'final', status} end
if f[5] then
  local left = tonumber(f[7] or 0) + tonumber(ARGV[6]) - server_ms()
  if left > 0 then return {'busy', left} end
end
local detail = nil
if status == 'sending' then detail = 'redelivered after an interrupted attempt' end
redis.call('HSET', mkey(id), 'attempt', ARGV[5])
redis.call('ZADD', prefix .. 'inflight', tonumber(ARGV[3]) + tonumber(ARGV[4]), id)
history(id, ARGV[3], 'sending', detail)
local recipient = cjson.decode(f[3])['recipient']['id']
local registered = redis.call('HGETALL', prefix .. 'recipient:' .. recipient)
return {'ok', f[3], f[4] or '0', f[5] or '', f[6] or '', registered, f[8] or ''}
"""
)

# KEYS: cap counters (sliding windows). ARGV: id, claim, attempt token, channel, now ms, then
# (max, period ms) per key. Marks a provider call about to start, and counts the message in
# every window (once: a message already counted passes again), if this attempt still owns the
# message (a later attempt of the same claim takes it over). Returns 1 if marked, 0 if taken
# over, -i if window i is full (then nothing is counted or marked).
_PROVIDER_CALL = (
    LUA_HELPERS
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

# ARGV: id, at ms, detail, channel. An entry under the current status, which it keeps.
_NOTE = (
    LUA_HELPERS
    + """
local status = status_of(ARGV[1])
if status then history(ARGV[1], ARGV[2], status, ARGV[3], ARGV[4]) end
return 1
"""
)

# ARGV: id, claim, status, now ms, detail, channel, retention s, retry at ms ('' if final),
# provider reference ('' if none), channel to exclude from now on ('' if none: its retries
# ran out, the next try starts afresh on the next channel), then optionally the next
# occurrence of a series as the 9 values of schedule(). A series whose rule was cancelled on
# its subject meanwhile gets no next occurrence.
_FINISH = (
    LUA_HELPERS
    + """
local id = ARGV[1]
local f = redis.call('HMGET', mkey(id), 'claim', 'history')
if f[1] ~= ARGV[2] then return 0 end
-- two attempts of one claim may both finish (see _BEGIN_SEND): a send, once recorded, stays
if status_in(f[2]) == 'sent' and ARGV[3] ~= 'sent' then return 0 end
redis.call('HDEL', mkey(id), 'provider_call', 'provider_call_at')
if ARGV[9] ~= '' then redis.call('HSET', mkey(id), 'reference', ARGV[9]) end
history(id, ARGV[4], ARGV[3], ARGV[5], ARGV[6])
if ARGV[3] == 'permanent-failure' or ARGV[3] == 'technical-failure' or ARGV[3] == 'expired' then
  -- the support console's "failures of the last 24 h": a day of ids, trimmed as it goes
  redis.call('ZADD', prefix .. 'failures', ARGV[4], id)
  redis.call('ZREMRANGEBYSCORE', prefix .. 'failures', '-inf', tonumber(ARGV[4]) - 86400000)
end
if ARGV[11] and redis.call('EXISTS', prefix .. 'stopped:' .. ARGV[13] .. ':' .. ARGV[14]) == 0 then
  schedule(11, ARGV[4], 'next in series after ' .. id)
end
if ARGV[10] ~= '' then
  local excluded = redis.call('HGET', mkey(id), 'excluded')
  redis.call('HSET', mkey(id), 'excluded', excluded and (excluded .. ',' .. ARGV[10]) or ARGV[10])
  redis.call('HDEL', mkey(id), 'attempts')
elseif ARGV[8] ~= '' and ARGV[3] == 'temporary-failure' then
  redis.call('HINCRBY', mkey(id), 'attempts', 1)
end
if ARGV[8] ~= '' then
  redis.call('ZREM', prefix .. 'inflight', id)
  redis.call('ZADD', prefix .. 'due', ARGV[8], id)
  redis.call('HSET', mkey(id), 'due', ARGV[8])
else
  finalize(id, subject_of(id), tonumber(ARGV[7]))
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


# A provider's delivery receipt. ARGV: id, 'delivered' or 'failed', channel, now ms, detail,
# reference. A failure re-opens a sent message for its next channel, due now.
_RECEIPT = (
    LUA_HELPERS
    + """
local id, outcome, channel = ARGV[1], ARGV[2], ARGV[3]
local f = redis.call('HMGET', mkey(id), 'history', 'excluded', 'reference')
local status = status_in(f[1])
if not status then return 'missing' end
if f[3] and ARGV[6] ~= '' and f[3] ~= ARGV[6] then return 'other-attempt' end
if outcome == 'delivered' then
  if status ~= 'sent' then return 'ignored' end
  history(id, ARGV[4], 'delivered', ARGV[5], channel)
  return 'delivered'
end
if status ~= 'sent' and status ~= 'delivered' then return 'ignored' end
local excluded = f[2] and (f[2] .. ',' .. channel) or channel
redis.call('HSET', mkey(id), 'excluded', excluded, 'due', ARGV[4])
redis.call('HDEL', mkey(id), 'reference')
redis.call('PERSIST', mkey(id))
redis.call('ZADD', prefix .. 'due', ARGV[4], id)
add_id(prefix .. 'subjects', subject_of(id), id)
history(id, ARGV[4], 'scheduled', 'not delivered on ' .. channel .. ': ' .. ARGV[5] ..
        '; trying the next channel', channel)
return 'fallback'
"""
)


# A support agent's action on one message. ARGV: id, 'cancel' or 'resend', now ms, reason,
# retention s. Cancel: a pending message ends cancelled. Resend: a message that ended without
# reaching the person (failure, expired) is scheduled again, due now, on all its channels.
# Returns the status it had, or 'missing'; nothing changes when the action does not apply.
_SUPPORT = (
    LUA_HELPERS
    + """
local id, action, now_ms, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local status = status_of(id)
if not status then return 'missing' end
if action == 'cancel' and pending[status] then
  history(id, now_ms, 'cancelled', reason)
  finalize(id, subject_of(id), tonumber(ARGV[5]))
elseif action == 'resend' and (status == 'permanent-failure' or status == 'technical-failure'
                               or status == 'expired') then
  redis.call('PERSIST', mkey(id))
  redis.call('HDEL', mkey(id), 'excluded', 'attempts', 'provider_call', 'provider_call_at')
  redis.call('HSET', mkey(id), 'due', now_ms)
  redis.call('ZADD', prefix .. 'due', now_ms, id)
  add_id(prefix .. 'subjects', subject_of(id), id)
  history(id, now_ms, 'scheduled', reason)
end
return status
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
    due_at: datetime | None = None  # when this claim fell due (a retry's, a deferral's)


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
        "due_at": message.due_at.astimezone(UTC).isoformat(),
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
    if int(fresh):
        planned = list(plan.messages)
    else:
        planned = [PlannedMessage.model_validate_json(b) for b in bodies if b]
    return Accepted(
        duplicate=not int(fresh),
        planned=[planned_summary(m) for m in planned],
        skipped=[{"rule": rule, "reason": reason} for rule, reason in json.loads(skipped)],
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


def _record(message_id: str, fields: dict[str, str]) -> MessageRecord:
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
    )


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

    def __init__(
        self,
        client: redis.Redis,
        *,
        retention: timedelta = timedelta(days=30),
        contact_key: bytes | None = None,
    ) -> None:
        self.redis = client
        self.contact_key = contact_key  # indexes contacts by keyed hash (support lookups)
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
        self._support = client.register_script(_SUPPORT)

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
        return cls(client, retention=retention, contact_key=contact_key)

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
        return [decode_answer(reply, plan) for reply, (_, plan) in zip(replies, plans, strict=True)]

    def _message_args(self, message: PlannedMessage, now: datetime) -> list[Any]:
        """A new message as the scripts' ``schedule`` takes it.

        Its record is kept until it is due, a week of retries and quiet hours at most, then
        the retention of a final record: so long must the recipient's index list it.
        """
        keep_until = max(message.due_at, now) + timedelta(days=7, seconds=self.retention_seconds)
        week, week_ends_in = recipient_week(keep_until, now)
        return [
            message.id,
            to_ms(message.due_at),
            subject_key(message.tenant, message.subject),
            message.rule,
            message.model_dump_json(exclude_none=True),
            message.recipient.id,
            week,
            week_ends_in,
            ",".join(self.contact_digests(message.recipient.contacts)),
        ]

    def contact_digests(self, contacts: Contacts) -> list[str]:
        """Keyed hashes of a recipient's phone and e-mail (none without a contact key)."""
        if self.contact_key is None:
            return []
        found = [c for c in (contacts.phone, contacts.email) if c]
        return [contact_digest(self.contact_key, c) for c in found]

    def _accept_args(self, plan: Plan, now: datetime, ttl: int) -> list[Any]:
        args: list[Any] = [ttl, to_ms(now), self.retention_seconds, encode_answer(plan)]
        args.append(len(plan.cancellations))
        for c in plan.cancellations:
            args += [subject_key(c.tenant, c.subject), c.rule or "", c.reason]
        args.append(len(plan.messages))
        for m in plan.messages:
            args += self._message_args(m, now)
        return args

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
        exclude: Channel | None = None,
    ) -> bool:
        """Record the outcome of an attempt; ``retry_at`` puts the message back in the schedule.

        ``following`` (the next occurrence of a series) is scheduled in the same step, unless
        the series was cancelled on its subject meanwhile. ``exclude`` closes a channel for
        this message (its retries ran out) and starts the count of attempts afresh.
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
        ]
        if following is not None:
            args += self._message_args(following, now)
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
            _record(message_id, fields) if fields else None
            for message_id, fields in zip(message_ids, replies, strict=True)
        ]

    def support(self, message_id: str, action: str, now: datetime, reason: str) -> str | None:
        """A support agent cancels a pending message, or sends a failed one again (``action``
        is ``cancel`` or ``resend``); the status it had, or None if there is no such message.
        A message in another state is left as it is."""
        found = str(
            self._support(
                args=[message_id, action, to_ms(now), reason[:500], self.retention_seconds]
            )
        )
        return None if found == "missing" else found

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
