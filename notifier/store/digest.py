"""Keyed hashes of contacts: how the engine finds a number or an address without keeping it.

Used for the SMS STOP list and the support console's lookup by phone or e-mail. Without the
key (``NOTIFIER_SECRET_KEY``), a dump of Redis does not tell which numbers are listed: an
unkeyed hash of the 10⁹ French mobile numbers is a lookup table.
"""

from __future__ import annotations

import hashlib
import hmac


def contact_digest(key: bytes, contact: str) -> str:
    return hmac.new(key, contact.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]
