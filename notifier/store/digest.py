"""Keyed hashes of contacts: how the engine finds a number or an address without keeping it.

Used for the SMS STOP list, the support console's lookup by phone or e-mail, and the
contacts marked discreet (kept with each message and registered recipient, so that the
worker asks whether one is marked within the step that begins its attempt). Without the key
(``NOTIFIER_SECRET_KEY``), a dump of Redis does not tell which numbers are listed: an
unkeyed hash of the 10⁹ French mobile numbers is a lookup table.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from notifier.models import Contacts


@lru_cache(maxsize=100_000)  # asked for each message of an event, and again at each send
def contact_digest(key: bytes, contact: str) -> str:
    return hmac.new(key, contact.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def contact_digests(key: bytes, contacts: Contacts) -> list[str]:
    """Keyed hashes of a recipient's phone and e-mail, those it has."""
    return [contact_digest(key, c) for c in (contacts.phone, contacts.email) if c]
