"""Who decided a person's safety settings, and when: the latest decision wins, whoever made it.

A recipient's hash (:mod:`notifier.store.recipients`) keeps them in its ``safety`` field, as
one :class:`Decision`: the settings in force, who decided them — ``person`` (their own
pages), ``agent`` (the support console), ``upstream`` (``PUT /v1/recipients/{id}`` or
``…/resume``, e.g. the agent at intake, at the person's request) or ``event`` (settings an
event carried inline) — and when. The hash holds it for a person sent inline in events as
well as for a registered one, so it holds for their next events and their pages.

An event may **tighten** the settings in force, never loosen them
(:func:`notifier.safety.tightened`): an upstream system that leaves ``safety`` out, or still
sends what it sent before the person changed their mind, changes nothing. Only what an event
says anew counts (``said``: what the last one carried).

``discreet-contacts`` is for every tenant, as the SMS STOP list is: a sorted set of
``{keyed hash of a phone or e-mail}:{keyed hash of tenant|id}`` (score 0, read by lexical
range), one member per contact a person with discreet messages has. A contact marked by one
tenant's recipient gets discreet wording from every tenant: the phone is watched, whoever
writes to it. What one tenant learns of another through it is one bit, and only by sending:
its message to that contact went in the discreet wording. Nothing in it is in clear. The
members follow the decision in force and the person's contacts on every write
(:func:`marks_for`): a new phone is marked and the old one unmarked, all go when discreet
messages are turned off or the person is erased.

The worker asks it within the step that begins its attempt (``begin_send.lua``), for the
keyed hashes kept as ``digests`` with a registered recipient's profile (by
:meth:`RecipientStore.put <notifier.store.recipients.RecipientStore.put>`) or else with the
message (by the ``schedule`` step of the scripts); :meth:`SafetyDecisions.marked` is for a
record written before they were kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import redis
from redis.client import Pipeline

from notifier.models import NO_SAFETY, Contacts, Recipient, Safety, Strict
from notifier.safety import tightened
from notifier.store import PREFIX
from notifier.store.digest import contact_digest, contact_digests

FIELD = "safety"
NOWHERE = Contacts()
DISCREET_CONTACTS = f"{PREFIX}discreet-contacts"

Decider = Literal["person", "agent", "upstream", "event"]


class Decision(Strict):
    safety: Safety
    by: Decider
    at: datetime
    said: Safety | None = None  # what the last event carrying ``safety`` said
    put: Safety | None = None  # what the last registration (PUT) carrying ``safety`` said
    marks: tuple[str, ...] = ()  # keyed hashes of the contacts marked discreet for them
    # when their latest pause began (kept after it ends): "send what I missed" sends only what
    # that pause withheld, never what an earlier one did that they let go
    paused_since: datetime | None = None


def decision_in(fields: dict[str, str]) -> Decision | None:
    """The decision kept in a recipient's hash fields; None if none was ever made."""
    stored = fields.get(FIELD)
    return Decision.model_validate_json(stored) if stored else None


Person = Callable[[dict[str, str]], Recipient | None]
"""The person as they stand in their hash's fields (None: not known at all)."""


class Stale(Exception):
    """The settings in force are no longer those a form showed: nothing was saved."""


def version(safety: Safety) -> str:
    """A short digest of the settings in force, carried by the forms that change them: a form
    shown before another decision (an event's tightening) is stale when saved."""
    return hashlib.sha256(safety.model_dump_json().encode()).hexdigest()[:16]


def marks_for(contact_key: bytes, safety: Safety, contacts: Contacts) -> tuple[str, ...]:
    """The keyed hashes of the contacts to mark discreet for a person whose settings in force
    are ``safety`` and whose contacts are ``contacts``: their phone and e-mail, or none
    without discreet messages. Every writer of a decision or of contacts uses it."""
    if not safety.discreet:
        return ()
    return tuple(sorted(set(contact_digests(contact_key, contacts))))


class SafetyDecisions:
    def __init__(self, client: redis.Redis, *, contact_key: bytes) -> None:
        self.redis = client
        self.contact_key = contact_key

    def decide(
        self,
        key: str,
        safety: Safety,
        by: Decider,
        at: datetime,
        person: Person,
        seen: str | None = None,
    ) -> None:
        """``safety`` decided ``at`` by ``by``, for the recipient of hash ``key``. ``seen``: the
        :func:`version` of the settings the deciding form showed; :class:`Stale` if those in
        force are others now (None: no form)."""

        def decided(fields: dict[str, str]) -> Decision:
            before = decision_in(fields)
            if seen is not None and version(in_force(fields, person)) != seen:
                raise Stale
            said, put = (before.said, before.put) if before else (None, None)
            return Decision(safety=safety, by=by, at=at, said=said, put=put)

        self._write(key, decided, person)

    def register(self, key: str, safety: Safety | None, at: datetime, person: Person) -> None:
        """A registration (``PUT /v1/recipients/{id}``): its ``safety`` is a decision, unless it
        is None or says again what the last registration said (an upstream system re-sending
        its record), which leaves a later choice of the person or an agent standing. Either
        way, the marks follow the contacts it registered."""

        def decided(fields: dict[str, str]) -> Decision | None:
            before = decision_in(fields)
            if safety is None or (before is not None and before.put == safety):
                return None
            said = before.said if before else None
            return Decision(safety=safety, by="upstream", at=at, said=said, put=safety)

        self._write(key, decided, person)

    def tighten(self, key: str, asked: Safety, at: datetime, person: Person) -> None:
        """An event's inline ``asked`` safety, over the settings in force."""

        def decided(fields: dict[str, str]) -> Decision | None:
            before = decision_in(fields)
            if before is not None and before.said == asked:
                return None  # nothing new from upstream: the latest decision stands
            now = in_force(fields, person)
            after = tightened(now, asked)
            if before is not None and after == now:
                return before.model_copy(update={"said": asked})
            return Decision(safety=after, by="event", at=at, said=asked)

        self._write(key, decided, person)

    def marked(self, contacts: Contacts) -> bool:
        """Whether a person of any tenant with discreet messages has one of ``contacts``."""
        digests = contact_digests(self.contact_key, contacts)
        if not digests:
            return False
        pipe = self.redis.pipeline(transaction=False)
        for digest in digests:
            pipe.zrangebylex(DISCREET_CONTACTS, f"[{digest}:", f"({digest};", start=0, num=1)
        return any(pipe.execute())

    def forget(self, key: str) -> None:
        """The recipient is being erased: their marks go (the hash goes with the erasure)."""
        before = decision_in({FIELD: str(self.redis.hget(key, FIELD) or "")})
        if before is not None and before.marks:
            owner = contact_digest(self.contact_key, key)
            self.redis.zrem(DISCREET_CONTACTS, *(f"{m}:{owner}" for m in before.marks))

    def _write(
        self,
        key: str,
        decide: Callable[[dict[str, str]], Decision | None],
        person: Person,
    ) -> None:
        """Apply ``decide`` to the hash's fields as they are (watched: a concurrent decision
        makes it read them again; None: the decision in force stands), and mark the
        person's contacts as :func:`marks_for` says for the decision in force."""
        owner = contact_digest(self.contact_key, key)

        def transaction(pipe: Pipeline) -> None:
            fields: dict[str, str] = pipe.hgetall(key)  # type: ignore[assignment]
            before = decision_in(fields)
            decided = decide(fields)
            new = before if decided is None else decided
            if new is None:
                return  # nothing decided, ever: nothing to mark
            found = person(fields)
            marks = marks_for(self.contact_key, new.safety, found.contacts if found else NOWHERE)
            if new is before and marks == before.marks:
                return
            old = set(before.marks) if before else set()
            kept = {"marks": marks, "paused_since": paused_since(before, new)}
            pipe.multi()
            pipe.hset(key, FIELD, new.model_copy(update=kept).model_dump_json())
            if old - set(marks):
                pipe.zrem(DISCREET_CONTACTS, *(f"{m}:{owner}" for m in old - set(marks)))
            if marks:
                pipe.zadd(DISCREET_CONTACTS, {f"{m}:{owner}": 0 for m in marks})

        self.redis.transaction(transaction, key)


def paused_since(before: Decision | None, new: Decision) -> datetime | None:
    """When the latest pause began: this decision's time if it starts one, else as it was."""
    was = before.paused_since if before else None
    starts = new.safety.paused and not (before and before.safety.paused)
    return new.at if starts else was


def in_force(fields: dict[str, str], person: Person) -> Safety:
    """The settings in force for the person of these hash fields."""
    found = person(fields)
    return found.safe if found else NO_SAFETY
