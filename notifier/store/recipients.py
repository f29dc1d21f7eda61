"""Registered recipients: contacts, preferences, push subscriptions, and erasure.

Each belongs to a tenant, as messages do: ``notifier:recipient:{tenant}|{id}`` is a hash:
``profile`` (the recipient as JSON, as last PUT by an upstream system), ``choices`` (needs
and opt-outs the person set on their own pages: they win), ``safety`` (the latest decision
on their safety settings, whoever made it: :mod:`notifier.store.safety_decisions`), ``blocked``
(channels a provider closed, e.g. an SMS STOP), the code that opens a discreet person's
pages (:mod:`notifier.store.pages_codes`) and one ``push:{digest}`` field per browser
subscription. Only ``profile`` makes a recipient registered; the rest applies to events that
carry the recipient inline too (of the same tenant: another tenant's recipient under the
same id is another person).
``notifier:sms-stops`` is a hash: keyed hash of a number (see :func:`contact_digest`) → when
it sent STOP; a STOP is for good, for every later message to that number whatever the
tenant, from a registered recipient or from one sent inline in an event, and it outlives an
erasure. Erasing a recipient also erases every message record of its tenant that names
them, found in the store's weekly recipient indexes (see :mod:`notifier.store`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, overload

import redis
from redis.client import Pipeline

from notifier.models import (
    Channel,
    MessageStatus,
    Need,
    OptOut,
    PlannedMessage,
    PushSubscription,
    Recipient,
    Safety,
    Strict,
    recipient_key,
)
from notifier.runtime.clock import utcnow
from notifier.store import PREFIX, Store
from notifier.store.codec import recipient_hash
from notifier.store.digest import contact_digest, contact_digests
from notifier.store.pages_codes import PagesCodes, tries_key
from notifier.store.safety_decisions import Decider, SafetyDecisions, decision_in
from notifier.store.scripts import register


class Choices(Strict):
    """What a person chose on their own pages; kept apart from what upstream registered."""

    needs: frozenset[Need] = frozenset()
    opt_outs: tuple[OptOut, ...] = ()


def _push_field(endpoint: str) -> str:
    return "push:" + hashlib.sha256(endpoint.encode()).hexdigest()[:16]


SMS_STOPS = f"{PREFIX}sms-stops"


class RecipientStore(PagesCodes):
    def __init__(self, client: redis.Redis, *, contact_key: bytes) -> None:
        self.redis = client
        self.contact_key = contact_key
        self.safety = SafetyDecisions(client, contact_key=contact_key)
        self._erase = register(client, "erase")["erase"]

    def stop_sms(self, phone: str, at: float) -> None:
        """The number sent STOP: no SMS to it any more, whoever the message is for."""
        self.redis.hsetnx(SMS_STOPS, contact_digest(self.contact_key, phone), str(int(at)))

    def sms_stopped(self, phone: str) -> bool:
        return bool(self.redis.hexists(SMS_STOPS, contact_digest(self.contact_key, phone)))

    def put(self, tenant: str, recipient: Recipient, at: datetime | None = None) -> None:
        """Register or replace a recipient; subscriptions and provider blocks are kept. Its
        ``safety``, when given, is a decision made ``at`` (absent: the one in force stays);
        the discreet marks follow its contacts either way."""
        profile = recipient.model_dump_json(exclude={"blocked", "safety"})
        key = recipient_hash(tenant, recipient.id)
        digests = ",".join(contact_digests(self.contact_key, recipient.contacts))
        self.redis.hset(key, mapping={"profile": profile, "digests": digests})
        self.safety.register(key, recipient.safety, at or utcnow(), self.current)

    def keep_safety(self, tenant: str, recipient: Recipient, at: datetime) -> None:
        """The ``safety`` an event carried inline for ``recipient``: kept in their hash, so
        that it holds for their next events and pages; it may tighten what is in force."""
        if recipient.safety is None:
            return
        key = recipient_hash(tenant, recipient.id)
        self.safety.tighten(key, recipient.safety, at, lambda f: self.current(f, recipient))

    def get(self, tenant: str, recipient_id: str) -> Recipient | None:
        """The registered recipient as it stands now; None if not registered."""
        return self.current(self.fields(tenant, recipient_id))

    def known(self, tenant: str, recipient_id: str) -> Recipient | None:
        """The person as ``tenant`` knows them now: registered, or else as its latest message
        to them carried them (with their own choices and safety); None if neither."""
        fields = self.fields(tenant, recipient_id)
        return self.current(fields, self._carried(tenant, recipient_id, fields))

    def _carried(self, tenant: str, recipient_id: str, fields: dict[str, str]) -> Recipient | None:
        """The recipient as ``tenant``'s latest message to them carried them; None if they
        are registered (the profile wins) or were sent nothing."""
        if "profile" in fields:
            return None
        pipe = self.redis.pipeline(transaction=False)
        for message_id in self.message_ids(tenant, recipient_id):
            pipe.hget(f"{PREFIX}msg:{message_id}", "body")
        found = [PlannedMessage.model_validate_json(str(b)) for b in pipe.execute() if b]
        mine = [m for m in found if m.tenant == tenant]
        return max(mine, key=lambda m: m.due_at).recipient if mine else None

    def fields(self, tenant: str, recipient_id: str) -> dict[str, str]:
        return self.redis.hgetall(recipient_hash(tenant, recipient_id))  # type: ignore[return-value]

    @overload
    @staticmethod
    def current(fields: dict[str, str], snapshot: Recipient) -> Recipient: ...

    @overload
    @staticmethod
    def current(fields: dict[str, str], snapshot: None = None) -> Recipient | None: ...

    @staticmethod
    def current(fields: dict[str, str], snapshot: Recipient | None = None) -> Recipient | None:
        """The recipient in its stored hash as it stands now: the registered profile, or
        else ``snapshot`` (the recipient an event carried; None without either), with the
        browser subscriptions, the provider blocks, and the person's own choices (needs,
        opt-outs), which win over what an upstream system said."""
        if "profile" in fields:
            snapshot = Recipient.model_validate_json(fields["profile"])
        if snapshot is None:
            return None
        pushes = [json.loads(v) for k, v in fields.items() if k.startswith("push:")]
        latest = max(pushes, key=lambda p: p["added"], default=None)
        push = (
            PushSubscription.model_validate(latest["subscription"])
            if latest
            else snapshot.contacts.push
        )
        blocked = frozenset(Channel(c) for c in fields.get("blocked", "").split(",") if c)
        update: dict[str, object] = {
            "contacts": snapshot.contacts.model_copy(update={"push": push}),
            "blocked": snapshot.blocked | blocked,
        }
        if "choices" in fields:
            choices = Choices.model_validate_json(fields["choices"])
            update |= {"needs": choices.needs, "opt_outs": choices.opt_outs}
        decided = decision_in(fields)
        if decided is not None:
            update["safety"] = decided.safety
        return snapshot.model_copy(update=update)

    def set_choices(
        self,
        tenant: str,
        recipient_id: str,
        needs: frozenset[Need],
        opt_outs: tuple[OptOut, ...],
    ) -> None:
        """The person's own choices, made on their pages: applied from the next send."""
        choices = self._choices(tenant, recipient_id).model_copy(
            update={"needs": needs, "opt_outs": opt_outs}
        )
        self.redis.hset(recipient_hash(tenant, recipient_id), "choices", choices.model_dump_json())

    def set_safety(
        self,
        tenant: str,
        recipient_id: str,
        safety: Safety,
        *,
        by: Decider = "person",
        at: datetime | None = None,
        seen: str | None = None,
    ) -> None:
        """The person's own safety settings (or an agent's at their request): the latest
        decision. Safe contacts have no field on the pages: those set stay. ``seen``: the
        version of the settings the form showed (:class:`Stale` if they changed since)."""
        key = recipient_hash(tenant, recipient_id)
        fields = self.fields(tenant, recipient_id)
        before = decision_in(fields)
        if safety.contacts is None and before is not None and before.safety.contacts:
            safety = safety.model_copy(update={"contacts": before.safety.contacts})
        carried = self._carried(tenant, recipient_id, fields)
        person = functools.partial(self.current, snapshot=carried)
        self.safety.decide(key, safety, by, at or utcnow(), person, seen)

    def _choices(self, tenant: str, recipient_id: str) -> Choices:
        stored = self.redis.hget(recipient_hash(tenant, recipient_id), "choices")
        return Choices.model_validate_json(str(stored)) if stored else Choices()

    def resume(
        self, tenant: str, recipient_id: str, store: Store, now: datetime, *, send_missed: bool
    ) -> tuple[bool, list[str]] | None:
        """Turn the person's pause off; with ``send_missed``, schedule the messages withheld
        meanwhile again. Whether a pause was lifted, and the ids sent again; None if
        ``tenant`` has neither registered them nor sent them anything."""
        known = self.known(tenant, recipient_id)
        if known is None:
            return None
        if known.safe.paused:
            resumed = known.safe.model_copy(update={"paused": False})
            self.set_safety(tenant, recipient_id, resumed, by="upstream", at=now)
        resent = self.resend_withheld(tenant, recipient_id, store, now) if send_missed else []
        return known.safe.paused, resent

    def resend_withheld(
        self, tenant: str, recipient_id: str, store: Store, now: datetime
    ) -> list[str]:
        """Schedule the messages withheld during the person's latest pause again, due now
        (never those of an earlier pause, which they let go on resuming); their ids."""
        reason = "the person resumed contact and asked for what they missed"
        decided = decision_in(self.fields(tenant, recipient_id))
        since = decided.paused_since if decided else None
        ids = self.message_ids(tenant, recipient_id)
        return [
            record.id
            for record in store.get_many(ids)
            if record is not None
            and record.status is MessageStatus.WITHHELD
            and (since is None or record.history[-1].at >= since)
            and store.support(record.id, "unhold", now, reason) == (MessageStatus.WITHHELD, True)
        ]

    def add_push(
        self,
        tenant: str,
        recipient_id: str,
        subscription: PushSubscription,
        added: float,
        *,
        registered_only: bool = True,
        origin: str | None = None,
    ) -> bool:
        """Add a browser's subscription; False if the recipient is not registered (unless
        the person adds it from their own pages: ``registered_only=False``). ``origin``: the
        host of the pages it was made on (its notifications show it), if made on them."""
        key = recipient_hash(tenant, recipient_id)
        if registered_only and not self.redis.hexists(key, "profile"):
            return False
        record = {"subscription": subscription.model_dump(), "added": added}
        value = json.dumps(record | ({"origin": origin} if origin else {}))
        self.redis.hset(key, _push_field(subscription.endpoint), value)
        return True

    @staticmethod
    def push_origin(fields: dict[str, str], channel: Channel, address: str | None) -> str | None:
        """The host of the pages the stored subscription ``address`` was made on; None if it
        was not made there (the API, an event) or is not a stored push subscription."""
        if channel is not Channel.WEBPUSH or address is None:
            return None
        stored = fields.get(_push_field(json.loads(address)["endpoint"]))
        return json.loads(stored).get("origin") if stored else None

    @staticmethod
    def push_proven(fields: dict[str, str], channel: Channel, address: str) -> bool | None:
        """Whether a push to this subscription (``address``, on ``channel``) went through
        before; None if it is not a push subscription stored in these hash fields."""
        if channel is not Channel.WEBPUSH:
            return None
        stored = fields.get(_push_field(json.loads(address)["endpoint"]))
        return bool(json.loads(stored).get("proven")) if stored else None

    def prove_push(self, tenant: str, recipient_id: str, address: str) -> None:
        """A push to this stored subscription went through: it takes our key; from then on
        its refusal counts as evidence about our key (see :mod:`notifier.channels.webpush`)."""
        key = recipient_hash(tenant, recipient_id)
        field = _push_field(json.loads(address)["endpoint"])

        def transaction(pipe: Pipeline) -> None:
            stored = pipe.hget(key, field)
            if stored:  # not removed meanwhile
                pipe.multi()
                pipe.hset(key, field, json.dumps(json.loads(str(stored)) | {"proven": True}))

        self.redis.transaction(transaction, key)

    def remove_push(self, tenant: str, recipient_id: str, endpoint: str) -> None:
        """Forget a subscription the push service says is gone (404/410)."""
        self.redis.hdel(recipient_hash(tenant, recipient_id), _push_field(endpoint))

    def block(self, tenant: str, recipient_id: str, channel: Channel) -> None:
        """Close a channel for a registered recipient (an SMS STOP): never used again."""
        key = recipient_hash(tenant, recipient_id)
        if not self.redis.hexists(key, "profile"):
            return
        current = str(self.redis.hget(key, "blocked") or "")
        channels = {c for c in current.split(",") if c} | {channel.value}
        self.redis.hset(key, "blocked", ",".join(sorted(channels)))

    def message_ids(self, tenant: str, recipient_id: str) -> list[str]:
        """Every message record of ``tenant`` naming the recipient, in the weekly indexes."""
        field = recipient_key(tenant, recipient_id)
        lists = self._weekly(lambda pipe, week: pipe.hget(f"{PREFIX}recipients:{week}", field))
        return _once([i for ids in lists for i in (ids or "").split(",") if i])

    def _weekly(self, read: Callable[[Pipeline, str], object]) -> list[Any]:
        """What ``read`` finds in each week of the weekly indexes, in one round trip."""
        weeks: list[str] = sorted(self.redis.smembers(f"{PREFIX}recipient-weeks"))  # type: ignore[arg-type]
        pipe = self.redis.pipeline(transaction=False)
        for week in weeks:
            read(pipe, week)
        return pipe.execute() if weeks else []

    def erase(self, tenant: str, recipient_id: str) -> int | None:
        """Delete the recipient and every message record about them; how many were removed,
        None if ``tenant`` has neither registered them nor sent them anything."""
        contacts = set()
        records = self.message_ids(tenant, recipient_id)
        for record_id in records:
            body = self.redis.hget(f"{PREFIX}msg:{record_id}", "body")
            if body:
                found = PlannedMessage.model_validate_json(str(body)).recipient.contacts
                contacts |= {c for c in (found.phone, found.email) if c}
        key = recipient_hash(tenant, recipient_id)
        if not records and not self.redis.exists(key):
            return None
        registered = self.get(tenant, recipient_id)
        if registered:
            contacts |= {c for c in (registered.contacts.phone, registered.contacts.email) if c}
        digests = sorted(contact_digest(self.contact_key, c) for c in contacts)
        self.redis.delete(tries_key(tenant, recipient_id))
        self.safety.forget(key)
        return int(self._erase(keys=[key], args=[recipient_key(tenant, recipient_id), *digests]))

    def by_contact(self, contact: str) -> list[tuple[str, str]]:
        """(tenant, recipient id) of each recipient whose messages name this phone number or
        e-mail, whatever the tenant (for the support console): each week's ``contacts``
        sorted set holds ``{keyed hash}:{tenant}|{recipient id}``, read by lexical range."""
        digest = contact_digest(self.contact_key, contact)
        members = self._weekly(
            lambda pipe, week: pipe.zrangebylex(
                f"{PREFIX}contacts:{week}", f"[{digest}:", f"({digest};"
            )
        )
        found = _once([m.split(":", 1)[1] for found in members for m in found])
        return [(tenant, recipient) for tenant, _, recipient in (f.rpartition("|") for f in found)]


def _once(ids: list[str]) -> list[str]:
    """``ids`` in their order, each once."""
    return list(dict.fromkeys(ids))
