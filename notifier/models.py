"""The data that flows through the engine: events in, planned messages, statuses.

These models are the API's contract (FastAPI builds the OpenAPI schema from them) and the
format of what the store keeps, so they are strict: unknown fields are refused rather than
silently dropped, and times must carry a time zone.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from notifier.json_size import measure
from notifier.phones import normalize_phone, timezone_for_phone

EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
SUBJECT_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*:[A-Za-z0-9_.:/-]{1,200}$"
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
# notifier's own message ids: 16 URL-safe base64 characters, "-N" for a series' N-th
MESSAGE_ID_PATTERN = r"^[A-Za-z0-9_-]{16}(-[0-9]{1,9})?$"

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]


MAX_DATA_BYTES = 16_384
MAX_DATA_DEPTH = 8


@cache
def _known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unique(value: Any) -> Any:
    """A set sent as a JSON array lists each item once (``uniqueItems`` in the schema)."""
    if isinstance(value, list) and len(value) != len(
        {json.dumps(v, sort_keys=True) for v in value}
    ):
        raise ValueError("lists an item twice")
    return value


Unique = BeforeValidator(_unique)


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    WEBPUSH = "webpush"


class PushKeys(Strict):
    p256dh: str = Field(min_length=16, max_length=256, pattern=r"^[A-Za-z0-9_=-]+$")
    auth: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_=-]+$")


class PushSubscription(Strict):
    """What the browser's ``PushManager.subscribe()`` returns (``subscription.toJSON()``)."""

    endpoint: str = Field(pattern=r"^https?://", max_length=2048)
    keys: PushKeys

    @model_validator(mode="before")
    @classmethod
    def _browser_fields(cls, value: Any) -> Any:
        """Browsers' ``toJSON()`` also sends ``expirationTime`` (mostly null): not kept."""
        expires = value.get("expirationTime", "") if isinstance(value, dict) else ""
        if expires is None or type(expires) is int:  # anything else: refused, named
            return {k: v for k, v in value.items() if k != "expirationTime"}
        return value


class Contacts(Strict):
    """How a recipient can be reached. Absent means: not by that channel. Which one a
    channel uses: :func:`notifier.channels.registry.address_of`."""

    phone: str | None = Field(
        default=None,
        min_length=3,
        max_length=32,
        description="Stored in E.164; national French and overseas numbers are accepted.",
    )
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    push: PushSubscription | None = None

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)


class Need(StrEnum):
    """Accessibility needs the citizen declares (a preference, never a diagnosis)."""

    WRITTEN_CONTACT_ONLY = "written_contact_only"  # deaf or hard of hearing: no voice, ever
    SCREEN_READER = "screen_reader"
    EASY_READ = "easy_read"  # FALC: short sentences, one idea each, common words
    NO_SMARTPHONE = "no_smartphone"  # no web push; short GSM-7 SMS that stand on their own


class OptOut(Strict):
    """The citizen does not want this category of optional news on these channels."""

    category: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    channels: Annotated[frozenset[Channel], Unique] = Field(
        default_factory=lambda: frozenset(Channel)
    )


CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class SafeHours(Strict):
    """When contact is safe, in the recipient's time zone: ``start`` to ``end`` on ``days``
    (a window past midnight belongs to the day it starts)."""

    days: Annotated[frozenset[Weekday], Unique] = Field(
        default_factory=lambda: frozenset(Weekday), min_length=1
    )
    start: str = Field(pattern=CLOCK_PATTERN, examples=["09:00"])
    end: str = Field(pattern=CLOCK_PATTERN, examples=["17:00"])

    @model_validator(mode="after")
    def _not_empty(self) -> SafeHours:
        if self.start == self.end:
            raise ValueError("start and end are the same time: the window would be empty")
        return self


class Safety(Strict):
    """What the person (or an agent at their request) decided a message may reveal, when it
    may come and where; it wins over every rule (see notifier/safety.py)."""

    discreet: bool = Field(
        default=False,
        description="Every message in its discreet wording, from a neutral sender.",
    )
    safe_hours: SafeHours | None = Field(
        default=None, description="Only then; a message due outside waits (or expires)."
    )
    channels: Annotated[frozenset[Channel], Unique] | None = Field(
        default=None,
        min_length=1,
        description="The only channels that may be used; absent: any.",
    )
    contacts: Contacts | None = Field(
        default=None,
        description="Within a channel, the only address that is safe (e.g. this e-mail only): "
        "another address of that channel is skipped. A channel not named here: any address.",
    )
    paused: bool = Field(
        default=False, description="No contact at all: messages due meanwhile end withheld."
    )

    @property
    def active(self) -> bool:
        return (
            self.discreet or self.paused or bool(self.safe_hours or self.channels or self.contacts)
        )


NO_SAFETY = Safety()


class Recipient(Strict):
    """A citizen: inline in an event, or registered with ``PUT /v1/recipients/{id}``.

    An event whose recipient has only an ``id`` refers to the registered one.
    """

    id: Identifier
    locale: str = Field(default="fr", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    timezone: str = Field(
        default="Europe/Paris",
        description="IANA zone; when absent, the phone number's region's (Réunion, Guadeloupe…), "
        "else Europe/Paris.",
    )
    contacts: Contacts = Contacts()
    needs: Annotated[frozenset[Need], Unique] = Field(default_factory=frozenset)
    opt_outs: tuple[OptOut, ...] = ()
    blocked: Annotated[frozenset[Channel], Unique] = Field(
        default_factory=frozenset,
        description="Channels the provider says are closed (an SMS STOP); set by notifier.",
        json_schema_extra={"readOnly": True},
    )
    safety: Safety | None = Field(
        default=None,
        description="Safe contact settings (see Safety). Absent: those in force stay; the "
        "latest decision wins, and an event may only tighten them.",
    )

    @property
    def safe(self) -> Safety:
        """The safety settings in force (none set: the defaults, which change nothing)."""
        return self.safety or NO_SAFETY

    def refusal(self, channel: Channel, category: str | None) -> str | None:
        """Why this recipient must not get a message of ``category`` on ``channel``, if so.

        A message without category is a service message: it ignores opt-outs, never a
        blocked channel.
        """
        if channel in self.blocked:
            return f"{channel.value} is closed for this recipient (provider opt-out)"
        if category and any(
            o.category == category and channel in o.channels for o in self.opt_outs
        ):
            return f"the recipient opted out of {category!r} on {channel.value}"
        return None

    @model_validator(mode="after")
    def _timezone_from_phone(self) -> Recipient:
        """Without a stated time zone, the phone number's region gives it: quiet hours and
        "à 10 h 30" in Réunion follow Réunion's clock, not Paris's."""
        if "timezone" not in self.model_fields_set and self.contacts.phone:
            zone = timezone_for_phone(self.contacts.phone)
            if zone is not None and zone in _known_timezones():
                object.__setattr__(self, "timezone", zone)
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in _known_timezones():
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Europe/Paris'"
            )
        return value


class Event(Strict):
    """Something that happened upstream, posted to ``POST /v1/events``."""

    id: Identifier = Field(description="Unique per client; a retry reuses it.")
    type: str = Field(pattern=EVENT_TYPE_PATTERN, examples=["appointment.booked"])
    occurred_at: AwareDatetime
    subject: str = Field(
        pattern=SUBJECT_PATTERN,
        description="What the event is about; later events on it cancel or move its messages.",
        examples=["appointment:BRG-75-00042"],
    )
    recipient: Recipient
    data: dict[str, Any] = Field(
        default_factory=dict,
        description=f"Free-form, copied into each planned message: at most {MAX_DATA_BYTES} "
        f"bytes as JSON and {MAX_DATA_DEPTH} levels deep.",
    )

    @field_validator("data")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        too_deep, bound = measure(value, MAX_DATA_DEPTH)
        if too_deep:
            raise ValueError(f"nested more than {MAX_DATA_DEPTH} levels deep")
        # measured exactly only when it might be over (a twentieth of an event's time)
        if bound > MAX_DATA_BYTES and len(json.dumps(value, default=str)) > MAX_DATA_BYTES:
            raise ValueError(f"larger than {MAX_DATA_BYTES} bytes as JSON; send references")
        return value


class MessageStatus(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    TEMPORARY_FAILURE = "temporary-failure"
    PERMANENT_FAILURE = "permanent-failure"
    TECHNICAL_FAILURE = "technical-failure"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    WITHHELD = "withheld"  # due while the person had paused all contact

    @property
    def pending(self) -> bool:
        """Not sent yet, nor being sent: a cancellation still stops it."""
        return self in PENDING_STATUSES


# The store's scripts read the same list: helpers.lua declares it, scripts.py checks the two.
PENDING_STATUSES = (MessageStatus.SCHEDULED, MessageStatus.QUEUED, MessageStatus.TEMPORARY_FAILURE)


class Series(Strict):
    """Where a recurring message stands in its series; the next occurrence is computed from it."""

    cron: str
    index: int = Field(ge=1, description="1 for the first occurrence.")
    count: int | None = None
    until: AwareDatetime | None = None
    base_id: str
    nominal_at: AwareDatetime = Field(description="This occurrence's cron time, before deferral.")


class PlannedMessage(Strict):
    """One message the rules engine decided to send: everything the worker needs.

    Timing is fixed when planned; the text is rendered at send time from the template, so a
    corrected template reaches messages already scheduled.
    """

    id: str
    rule: str
    rules_version: str
    event_id: str
    event_type: str
    tenant: str = Field(
        default="", description="Whose events may cancel or move it and read it (see apikeys)."
    )
    subject: str
    due_at: AwareDatetime
    template: str
    channels: tuple[Channel, ...]
    recipient: Recipient
    data: dict[str, Any]
    expires_at: AwareDatetime | None = None
    quiet_hours: tuple[str, str] | None = Field(
        default=None, description="Local window (start, end) to avoid; None when critical."
    )
    cap: tuple[int, int] | None = Field(
        default=None, description="(max messages, per seconds) for this rule and recipient."
    )
    series: Series | None = None
    category: str | None = None
    critical: bool = False


def subject_key(tenant: str, subject: str) -> str:
    """A subject as the store indexes it: one tenant's subjects are not another's."""
    return f"{tenant}|{subject}"


def recipient_key(tenant: str, recipient_id: str) -> str:
    """A recipient as the store indexes it: one tenant's recipient is not another's, even
    under the same id (their profile, choices, subscriptions and messages)."""
    return f"{tenant}|{recipient_id}"


class HistoryEntry(BaseModel):
    at: datetime
    status: MessageStatus
    detail: str | None = None
    channel: Channel | None = None
