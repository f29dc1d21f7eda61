"""What the accept script takes for a plan, and the accept and finish scripts for each new
message (a series' next occurrence), as their ARGV: pure, no I/O. The scripts' headers in
``lua/`` name each argument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from notifier.models import Contacts, PlannedMessage, recipient_key, subject_key
from notifier.rules.plans import Plan
from notifier.store.codec import encode_answer, recipient_week, to_ms
from notifier.store.digest import contact_digests


@dataclass(frozen=True)
class PlanArguments:
    retention_seconds: int  # how long a final record is kept
    contact_key: bytes | None  # indexes contacts by keyed hash (support lookups)

    def message(self, message: PlannedMessage, now: datetime) -> list[Any]:
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
            recipient_key(message.tenant, message.recipient.id),
            week,
            week_ends_in,
            ",".join(self.contact_digests(message.recipient.contacts)),
        ]

    def contact_digests(self, contacts: Contacts) -> list[str]:
        """Keyed hashes of a recipient's phone and e-mail (none without a contact key)."""
        return [] if self.contact_key is None else contact_digests(self.contact_key, contacts)

    def accept(self, plan: Plan, now: datetime, ttl: int) -> list[Any]:
        args: list[Any] = [ttl, to_ms(now), self.retention_seconds, encode_answer(plan)]
        args.append(len(plan.cancellations))
        for c in plan.cancellations:
            args += [subject_key(c.tenant, c.subject), c.rule or "", c.reason]
        args.append(len(plan.messages))
        for m in plan.messages:
            args += self.message(m, now)
        return args
