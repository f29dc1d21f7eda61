"""Safe contact, the pure parts: the settings' model, the delivery decisions
(notifier/safety.py) as tables, and the discreet wording of every shipped template."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from notifier.delivery.decisions import Skip, skip
from notifier.models import (
    Channel,
    MessageStatus,
    PlannedMessage,
    Recipient,
    SafeHours,
    Safety,
    Weekday,
)
from notifier.rules.loader import RuleSetError
from notifier.safety import Hold, changes, hold, tightened, unsafe_channel
from notifier.templates.catalog import load_templates
from notifier.templates.context import template_flags
from notifier.templates.discreet import generic
from notifier.templates.formatting import format_date, format_time
from notifier.templates.renderer import REQUIRED_PARTS, Renderer
from notifier.web.safety_page import safety_from_form
from tests.support.builders import EXAMPLES, LINKS, SAMPLES, shipped_templates

PARIS = "Europe/Paris"
SAFE_9_17 = {"start": "09:00", "end": "17:00"}


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of June 2026 in Paris (UTC+2); the 10th is a Wednesday."""
    return datetime(2026, 6, day, hour, minute, tzinfo=ZoneInfo(PARIS)).astimezone(UTC)


def message(
    safety: dict[str, Any] | None = None,
    *,
    expires: datetime | None = None,
    quiet: tuple[str, str] | None = ("21:00", "08:00"),
) -> PlannedMessage:
    recipient: dict[str, Any] = {"id": "c-1", "timezone": PARIS}
    if safety is not None:
        recipient["safety"] = safety
    return PlannedMessage.model_validate(
        {
            "id": "m-1",
            "rule": "r",
            "rules_version": "v",
            "event_id": "e",
            "event_type": "appointment.booked",
            "subject": "appointment:A-1",
            "due_at": paris(10, 8).isoformat(),
            "template": "appointment_reminder",
            "channels": ["sms", "email"],
            "recipient": recipient,
            "data": {},
            "expires_at": expires.isoformat() if expires else None,
            "quiet_hours": quiet,
            "critical": quiet is None,
        }
    )


LIFETIME = timedelta(seconds=1)
SAFE_DETAIL = "outside the person's safe hours: deferred to "


@pytest.mark.parametrize(
    ("safety", "now", "expires", "quiet", "expected"),
    [
        pytest.param(None, paris(10, 20, 30), None, None, None, id="no-settings-critical"),
        pytest.param({}, paris(10, 12), None, ("21:00", "08:00"), None, id="empty-settings"),
        pytest.param(
            {"paused": True},
            paris(10, 12),
            None,
            None,
            Hold(MessageStatus.WITHHELD, "withheld: the person paused all contact"),
            id="paused",
        ),
        pytest.param(
            {"safe_hours": SAFE_9_17}, paris(10, 10), None, ("21:00", "08:00"), None, id="in-safe"
        ),
        pytest.param(
            {"safe_hours": SAFE_9_17},
            paris(10, 20),
            None,
            ("21:00", "08:00"),
            Hold(
                MessageStatus.SCHEDULED,
                SAFE_DETAIL + paris(11, 9).isoformat(),
                paris(11, 9),
            ),
            id="20h-waits-for-9h-next-day",
        ),
        pytest.param(
            {"safe_hours": SAFE_9_17},
            paris(10, 20),
            None,
            None,
            Hold(
                MessageStatus.SCHEDULED,
                SAFE_DETAIL + paris(11, 9).isoformat(),
                paris(11, 9),
            ),
            id="critical-waits-too",
        ),
        pytest.param(
            {"safe_hours": SAFE_9_17},
            paris(10, 20),
            paris(10, 23),
            None,
            Hold(
                MessageStatus.EXPIRED,
                "outside the person's safe hours until its expiry: not sent",
            ),
            id="expiry-first-expires",
        ),
        pytest.param(
            {"safe_hours": SAFE_9_17 | {"days": ["mon", "tue", "wed", "thu", "fri"]}},
            paris(12, 18),  # a Friday
            None,
            None,
            Hold(
                MessageStatus.SCHEDULED,
                SAFE_DETAIL + paris(15, 9).isoformat(),
                paris(15, 9),
            ),
            id="friday-evening-waits-for-monday",
        ),
        pytest.param(
            {"safe_hours": {"start": "22:00", "end": "06:00"}},
            paris(11, 1),
            None,
            None,
            None,
            id="overnight-window-after-midnight",
        ),
        pytest.param(
            {"safe_hours": {"start": "22:00", "end": "06:00"}},
            paris(11, 7),
            None,
            None,
            Hold(
                MessageStatus.SCHEDULED,
                SAFE_DETAIL + paris(11, 22).isoformat(),
                paris(11, 22),
            ),
            id="overnight-window-waits-for-evening",
        ),
        pytest.param(
            {"safe_hours": {"start": "07:00", "end": "09:00"}},
            paris(10, 22),
            None,
            ("21:00", "08:00"),
            Hold(
                MessageStatus.SCHEDULED,
                "quiet hours: deferred to " + paris(11, 8).isoformat(),
                paris(11, 8),
            ),
            id="quiet-hours-end-is-safe",
        ),
        pytest.param(
            None,
            paris(10, 22),
            None,
            ("21:00", "08:00"),
            Hold(
                MessageStatus.SCHEDULED,
                "quiet hours: deferred to " + paris(11, 8).isoformat(),
                paris(11, 8),
            ),
            id="quiet-hours-alone",
        ),
    ],
)
def test_hold(
    safety: dict[str, Any] | None,
    now: datetime,
    expires: datetime | None,
    quiet: tuple[str, str] | None,
    expected: Hold | None,
) -> None:
    assert hold(now, message(safety, expires=expires, quiet=quiet), LIFETIME) == expected


SAFE_MAIL = "Safe@Example.net"
NOT_SAFE = "this email address is not the one the person said is safe"


@pytest.mark.parametrize(
    ("safety", "channel", "address", "expected"),
    [
        pytest.param({}, Channel.SMS, "+33612345678", None, id="any-channel"),
        pytest.param({"channels": ["email"]}, Channel.EMAIL, "a@b.fr", None, id="the-safe-one"),
        pytest.param(
            {"channels": ["email"]},
            Channel.SMS,
            "+33612345678",
            "sms is not a safe channel for this person",
            id="another",
        ),
        pytest.param(
            {"contacts": {"email": SAFE_MAIL}}, Channel.EMAIL, "safe@example.net", None, id="safe"
        ),
        pytest.param(
            {"contacts": {"email": SAFE_MAIL}},
            Channel.EMAIL,
            "home@example.net",
            NOT_SAFE,
            id="not",
        ),
        pytest.param(
            {"contacts": {"email": SAFE_MAIL}},
            Channel.SMS,
            "+33612345678",
            None,
            id="other-channel",
        ),
        pytest.param(
            {"contacts": {"phone": "06 12 34 56 78"}},
            Channel.SMS,
            "+33612345678",
            None,
            id="safe-phone-as-written-nationally",
        ),
    ],
)
def test_unsafe_channel(
    safety: dict[str, Any], channel: Channel, address: str, expected: str | None
) -> None:
    assert unsafe_channel(channel, address, Safety.model_validate(safety)) == expected


def test_another_address_of_a_safe_channel_is_skipped_with_the_reason() -> None:
    person = Recipient.model_validate(
        {
            "id": "c-1",
            "contacts": {"email": "home@example.net", "phone": "+33612345678"},
            "safety": {"channels": ["email"], "contacts": {"email": SAFE_MAIL}},
        }
    )
    found = skip(Channel.EMAIL, person, None, stopped={}, closed=frozenset(), has_transport=True)
    assert found == Skip(NOT_SAFE)


def test_an_unsafe_channel_is_skipped_with_the_reason_before_anything_else() -> None:
    person = Recipient.model_validate(
        {
            "id": "c-1",
            "contacts": {"phone": "+33612345678"},
            "safety": {"channels": ["email"]},
        }
    )
    found = skip(Channel.SMS, person, None, stopped={}, closed=frozenset(), has_transport=True)
    assert found == Skip("sms is not a safe channel for this person")


NIGHT = {"start": "20:00", "end": "08:00"}


@pytest.mark.parametrize(
    ("current", "asked", "expected"),
    [
        pytest.param({}, {"discreet": True}, {"discreet": True}, id="adds-discreet"),
        pytest.param({"discreet": True}, {}, {"discreet": True}, id="never-lifts-discreet"),
        pytest.param({"paused": True}, {"paused": False}, {"paused": True}, id="never-resumes"),
        pytest.param({}, {"channels": ["sms"]}, {"channels": ["sms"]}, id="adds-channels"),
        pytest.param(
            {"channels": ["sms", "email"]},
            {"channels": ["email", "webpush"]},
            {"channels": ["email"]},
            id="narrows-channels",
        ),
        pytest.param(
            {"channels": ["sms"]}, {"channels": ["email"]}, {"channels": ["sms"]}, id="no-common"
        ),
        pytest.param({}, {"safe_hours": SAFE_9_17}, {"safe_hours": SAFE_9_17}, id="adds-hours"),
        pytest.param(
            {"safe_hours": SAFE_9_17},
            {"safe_hours": NIGHT},
            {"safe_hours": SAFE_9_17},
            id="never-replaces-hours",
        ),
        pytest.param(
            {},
            {"contacts": {"email": SAFE_MAIL}},
            {"contacts": {"email": SAFE_MAIL}},
            id="adds-a-safe-contact",
        ),
    ],
)
def test_an_event_tightens_never_loosens(
    current: dict[str, Any], asked: dict[str, Any], expected: dict[str, Any]
) -> None:
    found = tightened(Safety.model_validate(current), Safety.model_validate(asked))
    assert found == Safety.model_validate(expected)


@pytest.mark.parametrize(
    ("safety", "field"),
    [
        pytest.param({"safe_hours": {"start": "09:00", "end": "09:00"}}, "safe_hours", id="empty"),
        pytest.param({"safe_hours": {"start": "9h", "end": "17:00"}}, "start", id="clock"),
        pytest.param({"safe_hours": SAFE_9_17 | {"days": []}}, "days", id="no-day"),
        pytest.param({"channels": []}, "channels", id="no-channel"),
        pytest.param({"channels": ["fax"]}, "channels", id="unknown-channel"),
        pytest.param({"hidden": True}, "hidden", id="unknown-setting"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(safety: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Safety.model_validate(safety)
    assert field in str(raised.value)


# --- discreet wording ------------------------------------------------------------------

EVENTS = {p.stem: json.loads(p.read_text()) for p in (EXAMPLES / "events").glob("*.json")}
APPOINTMENT = EVENTS["appointment-booked"]["data"]
STATUS = EVENTS["procedure-status-changed"]["data"]
DATA = {
    "appointment_confirmation": APPOINTMENT,
    "appointment_reminder": APPOINTMENT,
    "appointment_moved": APPOINTMENT,
    "appointment_cancelled": APPOINTMENT,
    "procedure_status": STATUS,
    "document_available": SAMPLES["document_available"],
    "push_test": {},
}
# What a discreet message must never say: whoever holds the phone reads it.
DENY = [
    "gendarmerie",
    "police",
    "brigade",
    "plainte",
    "violence",
    "procédure",
    "procedure",
    "dossier",
    "parquet",
    "récépissé",
    "complaint",
    "case",
    APPOINTMENT["unit"],
    APPOINTMENT["address"],
    "rue Exemple",
    STATUS["reference"],
    STATUS["status_label"],
    SAMPLES["document_available"]["document_label"],
]
CASES = [
    (name, locale, channel)
    for name in shipped_templates()
    for locale in ("fr", "en")
    for channel in Channel
    if (
        EXAMPLES / "templates" / name / "fr" / f"{channel.value}.{REQUIRED_PARTS[channel][0]}.j2"
    ).is_file()
]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(EXAMPLES / "templates")


def context(name: str, locale: str, channel: Channel) -> dict[str, Any]:
    return {
        "channel": channel.value,
        "locale": locale,
        "timezone": PARIS,
        "needs": template_flags(()),
        "data": DATA[name],
        "links": LINKS,
    }


@pytest.mark.parametrize(
    ("name", "locale", "channel"), CASES, ids=[f"{n}-{lo}-{c.value}" for n, lo, c in CASES]
)
def test_discreet_texts_reveal_nothing_and_carry_the_link(
    renderer: Renderer, name: str, locale: str, channel: Channel
) -> None:
    parts = renderer.render(name, channel, locale, context(name, locale, channel), discreet=True)
    assert renderer.current.discreet_folder(name, channel, locale) == f"{name}/{locale}/discreet"
    everything = "\n".join(parts.values()).lower()
    assert [word for word in DENY if word.lower() in everything] == []
    assert "unsubscribe" not in everything and "/u/" not in everything
    # nor when: a watcher who reads the time of an appointment knows when the person is out
    starts = APPOINTMENT["starts_at"]
    when = [
        format_date(starts, locale, "Europe/Paris"),
        format_time(starts, locale, "Europe/Paris"),
    ]
    assert [said for said in when if said.lower() in everything] == []
    linked = parts["url"] if channel is Channel.WEBPUSH else parts[REQUIRED_PARTS[channel][-1]]
    if name != "push_test":  # the test notification has nothing to read
        assert LINKS["pages"] in linked
    assert "html" not in parts  # a discreet e-mail is plain text: no standard HTML beside it


@pytest.mark.parametrize(
    ("name", "locale", "channel"), CASES, ids=[f"{n}-{lo}-{c.value}" for n, lo, c in CASES]
)
def test_discreet_texts_render_without_a_public_url(
    renderer: Renderer, name: str, locale: str, channel: Channel
) -> None:
    """No NOTIFIER_PUBLIC_URL, no link: the discreet message still renders (a push without
    its ``url``), rather than failing on an empty link."""
    ctx = context(name, locale, channel) | {"links": {}}
    parts = renderer.render(name, channel, locale, ctx, discreet=True)
    assert "url" not in parts
    assert all(parts[part] for part in REQUIRED_PARTS[channel])


@pytest.mark.parametrize("channel", list(Channel), ids=lambda c: c.value)
def test_a_template_without_a_discreet_variant_gets_the_generic_message(
    tmp_path: Path, channel: Channel
) -> None:
    standard = {
        "t/fr/sms.text.j2": "Gendarmerie : votre plainte {{ data.reference }}",
        "t/fr/email.subject.j2": "Votre plainte",
        "t/fr/email.text.j2": "Votre plainte {{ data.reference }}",
        "t/fr/email.html.j2": "<p>Votre plainte</p>",
        "t/fr/webpush.title.j2": "Gendarmerie",
        "t/fr/webpush.body.j2": "Votre plainte",
        "t/fr/discreet/sms.text.j2": "only the SMS has a discreet variant here",
    }
    for relative, text in standard.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    ctx = {"locale": "en", "timezone": PARIS, "needs": {}, "data": {"reference": "P-1"}}
    parts = Renderer(tmp_path).render("t", channel, "en", ctx | {"links": LINKS}, discreet=True)
    if channel is Channel.SMS:
        assert parts == {"text": "only the SMS has a discreet variant here"}
    else:
        assert parts == generic(channel, "en", LINKS)
        assert "plainte" not in json.dumps(parts).lower()
        assert LINKS["pages"] in json.dumps(parts)


@pytest.mark.parametrize(
    ("channel", "locale", "links", "expected"),
    [
        pytest.param(
            Channel.SMS,
            "fr",
            LINKS,
            {"text": f"Vous avez un nouveau message. Consultez-le : {LINKS['pages']}"},
            id="sms-fr",
        ),
        pytest.param(
            Channel.EMAIL,
            "en-GB",
            LINKS,
            {
                "subject": "New message",
                "text": f"Hello,\n\nYou have a new message. Read it: {LINKS['pages']}",
            },
            id="email-en-GB",
        ),
        pytest.param(
            Channel.WEBPUSH,
            "de",
            {},
            {"title": "Nouveau message", "body": "Vous avez un nouveau message."},
            id="push-no-link-other-language",
        ),
    ],
)
def test_generic_discreet_message(
    channel: Channel, locale: str, links: dict[str, str], expected: dict[str, str]
) -> None:
    assert generic(channel, locale, links) == expected


def test_a_discreet_variant_missing_a_part_is_refused(tmp_path: Path) -> None:
    """It would otherwise borrow the standard subject: refused with the file, as for others."""
    for relative, text in {
        "t/fr/email.subject.j2": "Votre plainte",
        "t/fr/email.text.j2": "Votre plainte",
        "t/fr/discreet/email.text.j2": "Un message",
    }.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    with pytest.raises(RuleSetError) as raised:
        load_templates(tmp_path)
    assert "t/fr/discreet/email.text.j2" in str(raised.value)
    assert "without email.subject.j2" in str(raised.value)


OFFERED = [Channel.SMS, Channel.EMAIL]


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        pytest.param((False, False, ["sms", "email"], "", ""), Safety(), id="nothing"),
        pytest.param(
            (True, True, ["email"], "09:00", "17:00"),
            Safety(
                discreet=True,
                paused=True,
                channels=frozenset({Channel.EMAIL}),
                safe_hours=SafeHours(start="09:00", end="17:00"),
            ),
            id="everything",
        ),
        pytest.param((False, False, [], "", ""), Safety(), id="no-channel-ticked-keeps-any"),
        pytest.param((False, False, ["webpush"], "", ""), Safety(), id="channel-not-offered"),
        pytest.param((False, False, [], "09:00", ""), None, id="half-a-window"),
        pytest.param((False, False, [], "9h", "17h"), None, id="not-a-time"),
        pytest.param((False, False, [], "09:00", "09:00"), None, id="empty-window"),
    ],
)
def test_the_staying_safe_form(form: tuple[Any, ...], expected: Safety | None) -> None:
    assert safety_from_form(*form, OFFERED) == expected


EMAIL_ONLY = frozenset({Channel.EMAIL})


@pytest.mark.parametrize(
    ("ticked", "offered", "current", "expected"),
    [
        pytest.param([], OFFERED, EMAIL_ONLY, EMAIL_ONLY, id="none-ticked-keeps-email-only"),
        pytest.param(
            ["sms"],
            [Channel.SMS],
            EMAIL_ONLY,
            frozenset(Channel) - {Channel.WEBPUSH},
            id="e-mail-not-offered-stays-allowed",
        ),
        pytest.param(
            ["sms"],
            [Channel.SMS],
            frozenset({Channel.SMS}),
            frozenset({Channel.SMS}),
            id="sms-only-stays-sms-only",
        ),
        pytest.param(
            ["sms", "email"],
            OFFERED,
            EMAIL_ONLY,
            frozenset({Channel.SMS, Channel.EMAIL}),
            id="all-offered-ticked-is-not-any-once-restricted",
        ),
    ],
)
def test_the_form_never_opens_a_channel_that_was_closed(
    ticked: list[str],
    offered: list[Channel],
    current: frozenset[Channel],
    expected: frozenset[Channel],
) -> None:
    """An agent set e-mail only, and the person saves the page for another reason (or with
    no box ticked, or with only the channels they have a contact for): nothing reopens."""
    saved = safety_from_form(False, False, ticked, "", "", offered, current)
    assert saved is not None and saved.channels == expected


def test_saving_the_form_keeps_the_safe_days() -> None:
    """The form has times, not days: a person safe on weekdays only (the other person is home
    at weekends) who saves the form for another reason keeps their weekdays."""
    weekdays = frozenset(Weekday) - {Weekday.SAT, Weekday.SUN}
    saved = safety_from_form(True, False, [], "09:00", "17:00", OFFERED, None, weekdays)
    assert saved is not None and saved.safe_hours is not None
    assert saved.safe_hours.days == weekdays
    fresh = safety_from_form(True, False, [], "09:00", "17:00", OFFERED)
    assert fresh is not None and fresh.safe_hours is not None
    assert fresh.safe_hours.days == frozenset(Weekday)


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        pytest.param(Safety(), Safety(), "nothing", id="nothing"),
        pytest.param(Safety(), Safety(discreet=True), "discreet on", id="discreet-on"),
        pytest.param(
            Safety(discreet=True, paused=True),
            Safety(discreet=False),
            "discreet off, pause off",
            id="both-off",
        ),
        pytest.param(
            Safety(),
            Safety(
                channels=frozenset({Channel.EMAIL}),
                safe_hours=SafeHours(start="09:00", end="17:00"),
            ),
            "safe channels, safe hours",
            id="channels-and-hours-named-not-shown",
        ),
    ],
)
def test_an_audit_says_what_changed_without_a_contact_or_a_time(
    before: Safety, after: Safety, said: str
) -> None:
    assert changes(before, after) == said
