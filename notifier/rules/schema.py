"""The rule file language: one pydantic model per construct, the single source of truth.

A rule file is YAML::

    rules:
      - id: appointment-reminder-48h
        trigger: [appointment.booked, appointment.rescheduled]
        at: 48h before data.starts_at
        template: appointment_reminder
        channels: [sms, email]
        cancel_on: [appointment.cancelled]

The key is ``trigger``, not ``on``: YAML 1.1 reads a bare ``on`` as the boolean true.
``docs/rules.md`` documents every construct with an example; ``docs/rules.schema.json`` is
generated from these models for editors.
"""

from __future__ import annotations

from datetime import time, timedelta
from functools import cached_property, lru_cache
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from notifier.models import Channel
from notifier.rules.compare import literal_kind
from notifier.rules.expressions import (
    Offset,
    Timing,
    check_field,
    parse_clock,
    parse_duration,
    parse_offset,
    parse_timing,
)

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
TEMPLATE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
EVENT_PATTERN = r"^([a-z][a-z0-9_]*|\*)(\.([a-z][a-z0-9_]*|\*))+$"

EventPattern = Annotated[str, Field(pattern=EVENT_PATTERN)]


@lru_cache(maxsize=4096)  # asked for every rule of every event: a few types and patterns
def event_matches(event_type: str, pattern: str) -> bool:
    """``procedure.*`` matches ``procedure.closed``; each ``*`` stands for one segment."""
    parts, wanted = event_type.split("."), pattern.split(".")
    return len(parts) == len(wanted) and all(
        w in ("*", p) for p, w in zip(parts, wanted, strict=True)
    )


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Scalar = str | int | float | bool


ORDERING = ("gt", "gte", "lt", "lte")


class Condition(Strict):
    """One test on an event field; a rule's ``when`` list must all hold."""

    field: str = Field(description="occurred_at, or data.<name>[.<name>…]")
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    present: bool | None = None
    gt: float | str | None = None
    gte: float | str | None = None
    lt: float | str | None = None
    lte: float | str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("field")
    @classmethod
    def _field_path(cls, value: str) -> str:
        return check_field(value)

    @field_validator(*ORDERING, mode="before")
    @classmethod
    def _orderable(cls, value: Any) -> Any:
        if isinstance(value, bool):  # before pydantic turns true into 1.0
            literal_kind(value)
        return value

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        used = [name for name in OPERATORS if getattr(self, name) is not None]
        if len(used) != 1:
            names = ", ".join(o.rstrip("_") for o in OPERATORS)
            raise ValueError(f"a condition needs exactly one operator among: {names}")
        operator, literal = self.operator
        if operator in ORDERING:
            kind = literal_kind(literal)  # a ValueError names what is ambiguous
            if self.field == "occurred_at" and kind not in ("instant", "date"):
                raise ValueError(
                    f"occurred_at is a date-time: compare it with a date-time or a date, "
                    f"not {literal!r}"
                )
        return self

    @property
    def operator(self) -> tuple[str, Any]:
        name = next(name for name in OPERATORS if getattr(self, name) is not None)
        return name.rstrip("_"), getattr(self, name)


OPERATORS = ("equals", "not_equals", "in_", "not_in", "present", "gt", "gte", "lt", "lte")


class QuietHours(Strict):
    """A nightly window, in the recipient's time zone, when nothing non-critical is sent."""

    start: str = "21:00"
    end: str = "08:00"

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value

    @property
    def window(self) -> tuple[time, time]:
        return parse_clock(self.start), parse_clock(self.end)


class Recurrence(Strict):
    """``every:`` a cron schedule in the recipient's zone, from a start, until a bound."""

    cron: str = Field(examples=["0 9 * * MON"], description="Five-field cron, local time.")
    start: str | None = Field(
        default=None, description="Field the series starts at (default: when planned)."
    )
    until: str | None = Field(default=None, description="Field after which it stops.")
    count: int | None = Field(default=None, ge=1, le=1000, description="At most this many.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(
                f"{value!r} is not a five-field cron expression (minute hour day month weekday)"
            )
        return value

    @field_validator("start", "until")
    @classmethod
    def _fields(cls, value: str | None) -> str | None:
        return None if value is None else check_field(value)


class Cap(Strict):
    """At most ``max`` messages of this rule per recipient within any ``per`` window."""

    max: int = Field(ge=1)
    per: str = Field(examples=["24h"])

    @field_validator("per")
    @classmethod
    def _per(cls, value: str) -> str:
        if parse_duration(value) <= timedelta(0):
            raise ValueError("the cap's period must be longer than zero")
        return value

    @property
    def period(self) -> timedelta:
        return parse_duration(self.per)


CATEGORY_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"


class Rule(Strict):
    """One rule: when an event of a trigger type arrives, plan one message (or a series)."""

    id: str = Field(pattern=RULE_ID_PATTERN, description="Unique across all rule files.")
    description: str = ""
    trigger: tuple[EventPattern, ...] = Field(
        min_length=1, description="Event types that plan it; '*' stands for one segment."
    )
    when: tuple[Condition, ...] = Field(default=(), description="Conditions, all must hold.")
    at: str | None = Field(
        default=None,
        description="'immediately' (default), '<duration> before|after <field>', or "
        "'<n> days before|after <field> at HH:MM' in the recipient's time zone.",
        examples=["48h before data.starts_at", "1 day before data.starts_at at 18:00"],
    )
    every: Recurrence | None = Field(default=None, description="Recurring instead of once.")
    expires: str | None = Field(
        default=None,
        description="Never delivered after this: a field, or '<duration> before|after <field>'.",
        examples=["data.starts_at"],
    )
    if_past: Literal["skip", "send"] = Field(
        default="skip", description="A due time already past: skip it, or send it now."
    )
    grace: str | None = Field(
        default=None, description="With if_past: send, only when late by less than this."
    )
    quiet_hours: QuietHours | Literal["off"] | None = Field(
        default=None, description="Override of the default window (21:00–08:00), or 'off'."
    )
    critical: bool = Field(default=False, description="Ignores quiet hours (safety messages).")
    cap: Cap | None = None
    category: str | None = Field(
        default=None,
        pattern=CATEGORY_PATTERN,
        description="Optional news the citizen may opt out of (e-mails then carry "
        "List-Unsubscribe). None: a service message, always sent.",
    )
    template: str = Field(pattern=TEMPLATE_NAME_PATTERN)
    requires: tuple[str, ...] = Field(
        default=(),
        description="Event fields an event must carry for this rule, beyond those its timing and "
        "its templates read (which are required already); a missing one is a 422 at ingest.",
        examples=[["data.unit", "data.address"]],
    )
    channels: tuple[Channel, ...] = Field(min_length=1, description="In order of preference.")
    max_sms_segments: int | None = Field(
        default=None, ge=1, le=10, description="SMS length budget, checked by rules check."
    )
    cancel_on: tuple[EventPattern, ...] = Field(
        default=(), description="Events on the same subject that cancel its pending messages."
    )
    replace_pending: bool = Field(
        default=True,
        description="A new trigger event on the same subject replaces what is still pending.",
    )

    @field_validator("at")
    @classmethod
    def _timing_is_readable(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timing(value)
        return value

    @field_validator("expires")
    @classmethod
    def _expiry_is_readable(cls, value: str | None) -> str | None:
        if value is not None:
            parse_offset(value)
        return value

    @field_validator("requires")
    @classmethod
    def _required_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_field(path) for path in value)

    @field_validator("grace")
    @classmethod
    def _grace_is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("channels")
    @classmethod
    def _channels_unique(cls, value: tuple[Channel, ...]) -> tuple[Channel, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Rule:
        if self.every is not None and self.at is not None:
            raise ValueError("a rule has either 'at' (once) or 'every' (recurring), not both")
        if self.grace is not None and self.if_past != "send":
            raise ValueError("'grace' only applies with 'if_past: send'")
        return self

    @cached_property
    def timing(self) -> Timing:
        return parse_timing(self.at or "immediately")

    @cached_property
    def expiry(self) -> Offset | None:
        return parse_offset(self.expires) if self.expires else None

    @cached_property
    def grace_period(self) -> timedelta | None:
        return parse_duration(self.grace) if self.grace else None


class Defaults(Strict):
    quiet_hours: QuietHours | Literal["off"] = QuietHours()
    categories: dict[Annotated[str, Field(pattern=CATEGORY_PATTERN)], dict[str, str]] = Field(
        default_factory=dict,
        description="How the citizen's pages name each optional category, per language: "
        "{procedure_news: {fr: 'L'avancement de vos démarches', en: 'Progress of …'}}.",
    )


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: Defaults | None = Field(
        default=None, description="Defaults for every rule file; in one file at most."
    )
    rules: list[Rule] = Field(default_factory=list)


def rule_file_json_schema() -> str:
    """The JSON Schema of a rule file, for editors (``docs/rules.schema.json``)."""
    import json

    schema = RuleFile.model_json_schema(by_alias=True)
    schema["title"] = "notifier rule file"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
