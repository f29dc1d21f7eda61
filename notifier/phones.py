"""Phone numbers: parse what citizens and upstream systems type, keep E.164.

France first: a national number (``06 12 34 56 78``) is French unless it only makes sense in
an overseas region — ``0692…`` is Réunion, ``0690…`` Guadeloupe — so each overseas region
sharing the French trunk prefix is tried in turn. Numbers of New Caledonia, French
Polynesia and Wallis-and-Futuna (no trunk 0) are recognised too; any number written with
``+`` and its country code is taken as written.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, timezone

# France, then the overseas regions: Réunion, Mayotte, Guadeloupe (and Saint-Martin,
# Saint-Barthélemy), French Guiana, Martinique, Saint-Pierre-and-Miquelon, New Caledonia,
# French Polynesia, Wallis-and-Futuna.
REGIONS = ("FR", "RE", "YT", "GP", "MF", "BL", "GF", "MQ", "PM", "NC", "PF", "WF")
MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


class InvalidPhoneNumber(ValueError):
    pass


@lru_cache(maxsize=100_000)  # every stored message is validated again when a worker loads it
def normalize_phone(text: str) -> str:
    """E.164 form of ``text``; :class:`InvalidPhoneNumber` (says why) if it is not a number."""
    if any(c.isalpha() for c in text):  # phonenumbers reads letters as a keypad's digits
        raise InvalidPhoneNumber("a phone number has digits only; write it like +33 6 12 34 56 78")
    for region in REGIONS:
        try:
            number = phonenumbers.parse(text, region)
        except NumberParseException:
            raise InvalidPhoneNumber(
                "not a phone number; write it like +33 6 12 34 56 78 or 06 12 34 56 78"
            ) from None
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if text.strip().startswith("+"):
            break  # an explicit country code: no other region to try
    raise InvalidPhoneNumber(
        "not a valid number in France, its overseas regions, or the country its + code names"
    )


@lru_cache(maxsize=100_000)
def is_mobile(e164: str) -> bool:
    """Whether an SMS can reach this number (landlines cannot receive them)."""
    return phonenumbers.number_type(phonenumbers.parse(e164)) in MOBILE_TYPES


# The overseas regions' own zones; phonenumbers lists both Réunion and Mayotte for +262.
REGION_ZONES = {
    "FR": "Europe/Paris",
    "RE": "Indian/Reunion",
    "YT": "Indian/Mayotte",
    "GP": "America/Guadeloupe",
    "MF": "America/Marigot",
    "BL": "America/St_Barthelemy",
    "GF": "America/Cayenne",
    "MQ": "America/Martinique",
    "PM": "America/Miquelon",
    "NC": "Pacific/Noumea",
    "PF": "Pacific/Tahiti",  # most of the population; the Marquesas and Gambier differ
    "WF": "Pacific/Wallis",
}


@lru_cache(maxsize=100_000)
# pydantic runs a recipient's "after" validator again whenever a model holding it is made (each
# planned message): parsing the number again cost more than the rest of planning it
@lru_cache(maxsize=100_000)
def timezone_for_phone(e164: str) -> str | None:
    """The time zone a number's owner most likely lives in, None when it cannot be told.

    France and its overseas regions by region (a Réunion mobile is in Indian/Reunion, not
    Paris); elsewhere, the zone phonenumbers gives when it gives one only.
    """
    number = phonenumbers.parse(e164)
    region = phonenumbers.region_code_for_number(number)
    if region in REGION_ZONES:
        return REGION_ZONES[region]
    zones = [z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    return zones[0] if len(zones) == 1 else None
