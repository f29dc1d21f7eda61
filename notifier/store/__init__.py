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
                        ``digests``: the keyed hashes of its phone and e-mail (with a contact
                        key; ``begin_send`` looks them up in ``discreet-contacts``);
                        ``discreet`` (``1`` or ``0``): whether its last send went in the
                        discreet wording, as the support console shows it.
                        Rule, subject and recipient are read from the body.
``subjects``            hash: ``{tenant}|{subject}`` → comma-separated ids of its messages
                        not yet final, or withheld during a pause (a resume may send those:
                        the subject's cancellation ends them too). A subject is one procedure:
                        a handful of messages, whose list each change copies. Scoped by
                        tenant: a client's events
                        never find another tenant's messages (:func:`subject_key`).
``recipients:{week}``   hash: ``{tenant}|{recipient id}`` (:func:`recipient_key`: one
                        tenant's recipient is not another's) → comma-separated ids of the
                        messages naming them that may be kept into that week; expires when
                        the week ends (see :func:`recipient_week`). ``recipient-weeks``: the
                        weeks, for erasure.
``contacts:{week}``     sorted set of ``{keyed hash of a phone or e-mail}:{tenant}|{recipient
                        id}`` (:mod:`notifier.store.digest`), read by lexical range, so that support
                        finds a person by contact, never stored in clear; same weeks and
                        expiry as ``recipients:{week}``. One member per pair, not a list
                        per contact: a contact many recipients share costs each the same.
``idem:{client}:{id}``  string: the ids an accepted event planned, what it skipped, the ids
                        it cancelled (see :func:`encode_answer`), for its replays
``stopped:{tenant}|{subject}:{rule}``  a series cancelled on its subject (no next one)
``channels-off``        hash: channel → why and since when a worker stopped it (credentials
                        refused); cleared by a worker starting with that channel
``failures``            sorted set, message id → when it ended as a failure or expired, the
                        last 24 h only (trimmed at each new one): the console's overview
``recipient:{tenant}|{id}``  a registered recipient, their choices and subscriptions
                        (:mod:`notifier.store.recipients`; ``digests`` beside ``profile``, as
                        in ``msg:{id}``); ``sms-stops`` is for every tenant
``discreet-contacts``    sorted set of ``{keyed hash of a phone or e-mail}:{keyed hash of
                        recipient:{tenant}|{id}``: the contacts of people with discreet
                        messages, for every tenant (:mod:`notifier.store.safety_decisions`)
``cap:{tenant}|{id}…``  sliding windows of the per-recipient caps (:meth:`Store.provider_call`)
``layout``              this layout's version, :data:`LAYOUT` (see :meth:`Store.check_layout`)
``fence``               rewritten before each ``WAIT`` for replicas (:mod:`notifier.store.durable`)

Every state change is one Lua script (a file under ``lua/`` naming its KEYS and ARGV), so it
is atomic with regard to every other process: several API instances, schedulers and workers
can share one server. The ``claim`` counter is a fencing token: each claim increments it,
and a worker may only move a message it holds the current claim of, so a stale or
duplicated broker message can never send twice.

Scripts compute some key names themselves, which a Redis Cluster would refuse; a single
server, or a primary with replicas behind Sentinel (:mod:`notifier.store.durable`: the writes
a guarantee rests on wait for replicas), is what this version supports.
"""

from notifier.store.codec import (
    CHANNELS_OFF,
    LAYOUT,
    PREFIX,
    UNAVAILABLE,
    Accepted,
    Busy,
    CapLimit,
    Claimed,
    MessageRecord,
    NotReplicated,
    SendLease,
    TakenOver,
    from_ms,
    patient_retry,
    to_ms,
)
from notifier.store.store import Store

__all__ = [
    "CHANNELS_OFF",
    "LAYOUT",
    "PREFIX",
    "UNAVAILABLE",
    "Accepted",
    "Busy",
    "CapLimit",
    "Claimed",
    "MessageRecord",
    "NotReplicated",
    "SendLease",
    "Store",
    "TakenOver",
    "from_ms",
    "patient_retry",
    "to_ms",
]
