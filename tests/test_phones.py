"""Phone numbers: France first, overseas regions, E.164 out, SMS only to mobiles.

Six-digit numbers (Saint-Pierre-and-Miquelon, New Caledonia, Wallis-and-Futuna) are ambiguous
without their + code; the first region in notifier.phones.REGIONS wins.
"""

from __future__ import annotations

import pytest

from notifier.models import Channel, Contacts
from notifier.phones import InvalidPhoneNumber, is_mobile, normalize_phone


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033612345678", "+33612345678"),
        ("01 45 00 00 00", "+33145000000"),
        ("0692 12 34 56", "+262692123456"),  # Réunion
        ("0639 40 12 34", "+262639401234"),  # Mayotte
        ("0690 12 34 56", "+590690123456"),  # Guadeloupe
        ("0694 20 12 34", "+594694201234"),  # French Guiana
        ("0696 12 34 56", "+596696123456"),  # Martinique
        ("55 12 34", "+508551234"),  # Saint-Pierre-and-Miquelon
        ("+687 75 12 34", "+687751234"),  # New Caledonia: six digits, give the + code
        ("+689 87 12 34 56", "+68987123456"),  # French Polynesia
        ("+681 82 12 34", "+681821234"),  # Wallis-and-Futuna
        ("+44 7400 123456", "+447400123456"),
    ],
)
def test_normalize(typed: str, e164: str) -> None:
    assert normalize_phone(typed) == e164


@pytest.mark.parametrize("typed", ["12", "06 12", "not a number", "+33 12", "+262 1"])
def test_invalid(typed: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(typed)


def test_sms_only_to_mobiles() -> None:
    assert is_mobile("+33612345678") and is_mobile("+262692123456")
    assert not is_mobile("+33145000000")
    assert Contacts(phone="01 45 00 00 00").address_for(Channel.SMS) is None
    assert Contacts(phone="06 12 34 56 78").address_for(Channel.SMS) == "+33612345678"
