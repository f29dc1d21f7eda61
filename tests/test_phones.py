"""Phone numbers: France first, overseas regions, E.164 out, SMS only to mobiles.

Six-digit numbers (Saint-Pierre-and-Miquelon, New Caledonia, Wallis-and-Futuna) are ambiguous
without their + code; the first region in notifier.phones.REGIONS wins.
"""

from __future__ import annotations

import pytest

from notifier.channels.registry import address_of
from notifier.models import Channel, Contacts, Recipient
from notifier.phones import InvalidPhoneNumber, is_mobile, normalize_phone


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        pytest.param("06 12 34 56 78", "+33612345678", id="mobile-national"),
        pytest.param("+33 6 12 34 56 78", "+33612345678", id="mobile-plus-33"),
        pytest.param("0033612345678", "+33612345678", id="mobile-0033"),
        pytest.param("01 45 00 00 00", "+33145000000", id="landline"),
        pytest.param("0692 12 34 56", "+262692123456", id="reunion"),
        pytest.param("0639 40 12 34", "+262639401234", id="mayotte"),
        pytest.param("0690 12 34 56", "+590690123456", id="guadeloupe"),
        pytest.param("0694 20 12 34", "+594694201234", id="french-guiana"),
        pytest.param("0696 12 34 56", "+596696123456", id="martinique"),
        pytest.param("55 12 34", "+508551234", id="saint-pierre-and-miquelon"),
        # six digits: give the + code
        pytest.param("+687 75 12 34", "+687751234", id="new-caledonia"),
        pytest.param("+689 87 12 34 56", "+68987123456", id="french-polynesia"),
        pytest.param("+681 82 12 34", "+681821234", id="wallis-and-futuna"),
        pytest.param("+44 7400 123456", "+447400123456", id="united-kingdom"),
    ],
)
def test_normalize(typed: str, e164: str) -> None:
    assert normalize_phone(typed) == e164


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("12", id="too-short"),
        pytest.param("06 12", id="truncated"),
        pytest.param("not a number", id="words"),
        pytest.param("+33 12", id="short-with-code"),
        pytest.param("+262 1", id="short-overseas"),
        # phonenumbers reads letters as a keypad's digits: a typo would text a stranger
        pytest.param("+336 secret 99", id="letters-inside"),
        pytest.param("06 12 34 56 7A", id="one-letter"),
        pytest.param("0800-FLOWERS", id="vanity"),
    ],
)
def test_invalid(typed: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(typed)


def test_sms_only_to_mobiles() -> None:
    assert is_mobile("+33612345678") and is_mobile("+262692123456")
    assert not is_mobile("+33145000000")
    assert address_of(Contacts(phone="01 45 00 00 00"), Channel.SMS) is None
    assert address_of(Contacts(phone="06 12 34 56 78"), Channel.SMS) == "+33612345678"


@pytest.mark.parametrize(
    ("phone", "zone"),
    [
        pytest.param("06 12 34 56 78", "Europe/Paris", id="metropolitan France"),
        pytest.param("0692 12 34 56", "Indian/Reunion", id="Réunion +262"),
        pytest.param("0639 40 12 34", "Indian/Mayotte", id="Mayotte +262 639"),
        pytest.param("+262 269 61 00 00", "Indian/Mayotte", id="Mayotte landline"),
        pytest.param("0690 12 34 56", "America/Guadeloupe", id="Guadeloupe +590"),
        pytest.param("0694 20 12 34", "America/Cayenne", id="French Guiana +594"),
        pytest.param("0696 12 34 56", "America/Martinique", id="Martinique +596"),
        pytest.param("+508 55 12 34", "America/Miquelon", id="Saint-Pierre +508"),
        pytest.param("+687 75 12 34", "Pacific/Noumea", id="New Caledonia +687"),
        pytest.param("+689 87 12 34 56", "Pacific/Tahiti", id="French Polynesia +689"),
        pytest.param("+681 82 12 34", "Pacific/Wallis", id="Wallis-and-Futuna +681"),
        pytest.param("+32 470 12 34 56", "Europe/Brussels", id="Belgium: its one zone"),
        pytest.param("+44 7911 123456", "Europe/Paris", id="UK: several zones, the default"),
    ],
)
def test_time_zone_from_the_number(phone: str, zone: str) -> None:
    recipient = Recipient(id="r", contacts=Contacts(phone=phone))
    assert recipient.timezone == zone


def test_a_stated_time_zone_wins_over_the_number() -> None:
    recipient = Recipient(id="r", timezone="Europe/Paris", contacts=Contacts(phone="0692123456"))
    assert recipient.timezone == "Europe/Paris"
    stored = Recipient.model_validate_json(
        Recipient(id="r", contacts=Contacts(phone="0692123456")).model_dump_json()
    )
    assert stored.timezone == "Indian/Reunion"


def test_quiet_hours_and_text_follow_the_zone_of_the_number() -> None:
    """A reminder the evening before at 18:00 local time: 18:00 in Réunion is 14:00 UTC."""
    from datetime import UTC, datetime

    from notifier.rules.engine import plan
    from tests.support.builders import NOW, make_event, rules_from

    rules = rules_from(
        "rules:\n  - id: r\n    trigger: [appointment.booked]\n    template: t\n"
        "    channels: [sms]\n    at: 1 day before data.starts_at at 18:00\n"
    )
    event = make_event(
        recipient={"id": "c", "contacts": {"phone": "0692 12 34 56"}},
        data={"starts_at": "2026-06-13T10:30:00+04:00"},
    )
    (message,) = plan(event, rules, NOW).messages
    assert message.recipient.timezone == "Indian/Reunion"
    assert message.due_at == datetime(2026, 6, 12, 14, 0, tzinfo=UTC)
