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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from notifier.models import EVENT_TYPE_PATTERN, Channel

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
TEMPLATE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
FIELD_PATH_PATTERN = r"^(occurred_at|data(\.[A-Za-z_][A-Za-z0-9_]*)+)$"

_DURATION_PART = re.compile(r"(\d+)\s*(d|h|m|s)")
_DURATION = re.compile(r"^\s*(\d+\s*[dhms]\s*)+$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_OFFSET = re.compile(r"^(?P<duration>.+?)\s+(?P<direction>before|after)\s+(?P<field>\S+)$")


def parse_duration(text: str) -> timedelta:
    """``"1h30m"`` → 90 minutes. Units: d, h, m, s."""
    if not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration; write it like 48h, 2h30m, 15m or 1d")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Immediately:
    def __str__(self) -> str:
        return "immediately"


@dataclass(frozen=True)
class Offset:
    """``48h before data.starts_at``: a fixed offset from a timestamp field of the event."""

    delta: timedelta  # negative for "before"
    field: str

    def __str__(self) -> str:
        direction = "before" if self.delta < timedelta(0) else "after"
        return f"{abs(self.delta)} {direction} {self.field}"


Timing = Immediately | Offset


def parse_timing(text: str) -> Timing:
    text = " ".join(text.split())
    if text == "immediately":
        return Immediately()
    match = _OFFSET.match(text)
    if not match:
        raise ValueError(
            f"cannot read timing {text!r}; write 'immediately' or "
            "'<duration> before|after <field>', e.g. '48h before data.starts_at'"
        )
    delta = parse_duration(match["duration"])
    if not re.match(FIELD_PATH_PATTERN, match["field"]):
        raise ValueError(
            f"{match['field']!r} is not an event timestamp field; "
            "use occurred_at or data.<name>, e.g. data.starts_at"
        )
    return Offset(delta=-delta if match["direction"] == "before" else delta, field=match["field"])


EventType = Annotated[str, Field(pattern=EVENT_TYPE_PATTERN)]


class Rule(BaseModel):
    """One rule: when an event of a trigger type arrives, plan one message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=RULE_ID_PATTERN, description="Unique across all rule files.")
    description: str = ""
    trigger: tuple[EventType, ...] = Field(min_length=1, description="Event types that plan it.")
    at: str = Field(
        default="immediately",
        description="When: 'immediately' or '<duration> before|after <field>'.",
        examples=["48h before data.starts_at"],
    )
    if_past: Literal["skip", "send"] = Field(
        default="skip",
        description="A due time already past: skip the message, or send it now.",
    )
    template: str = Field(pattern=TEMPLATE_NAME_PATTERN)
    channels: tuple[Channel, ...] = Field(min_length=1, description="In order of preference.")
    cancel_on: tuple[EventType, ...] = Field(
        default=(), description="Events on the same subject that cancel its pending messages."
    )
    replace_pending: bool = Field(
        default=True,
        description="A new trigger event on the same subject replaces what is still pending.",
    )

    @field_validator("at")
    @classmethod
    def _timing_is_readable(cls, value: str) -> str:
        parse_timing(value)
        return value

    @field_validator("channels")
    @classmethod
    def _channels_unique(cls, value: tuple[Channel, ...]) -> tuple[Channel, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value

    @cached_property
    def timing(self) -> Timing:
        return parse_timing(self.at)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
