"""Links sent to citizens: sealed, expiring tokens, never a guessable id.

A token carries the tenant and the recipient id (a recipient belongs to a tenant: the same
id under another tenant is another person), what it is for (``purpose``) and when it was
made, **encrypted** and authenticated with a key derived from ``NOTIFIER_SECRET_KEY``
(AES-GCM): anyone holding the link acts for that person, on that purpose only, until it
expires, and reads nothing in it — not the tenant (a client or a unit's name), not the
upstream id — since whoever holds a watched phone reads the link too. No phone number or
address is ever in a URL.

* ``pages``: the citizen's own pages (preferences, needs, this device, what we sent),
  valid ``NOTIFIER_LINK_TTL_DAYS`` (30 by default);
* ``unsubscribe``: one optional category on one channel (RFC 8058 one-click), valid a
  year: a mailbox keeps e-mails longer than a month.

A discreet message's link is on its own host (``NOTIFIER_DISCREET_PUBLIC_URL``, one that
names nothing), since whoever holds the phone reads it; without one, a discreet message
carries no link rather than the public URL's host, which may name the service.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PAGES = "pages"
UNSUBSCRIBE = "unsubscribe"
UNSUBSCRIBE_TTL = timedelta(days=365)
_NONCE = 12
_ISSUED = struct.Struct(">I")  # seconds since the epoch: until 2106
_CONTEXT = b"notifier.links"


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: acting for ``tenant``'s ``recipient`` on ``purpose``."""

    recipient: str
    purpose: str
    category: str | None = None
    channel: str | None = None
    _: KW_ONLY
    tenant: str


class LinkError(ValueError):
    """A token that is not ours, was altered, or has expired (``expired`` says which)."""

    def __init__(self, expired: bool) -> None:
        self.expired = expired
        super().__init__("link expired" if expired else "link not valid")


class Links:
    def __init__(
        self,
        secret: bytes,
        base_url: str | None,
        *,
        ttl: timedelta,
        discreet_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = HKDF(hashes.SHA256(), length=32, salt=None, info=_CONTEXT).derive(secret)
        self.aead = AESGCM(key)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.discreet_url = discreet_url.rstrip("/") if discreet_url else None
        self.ttl = ttl
        self.clock = clock

    def token(self, grant: Grant) -> str:
        fields = [grant.purpose, grant.tenant, grant.recipient]
        if grant.category:
            fields += [grant.category, grant.channel or ""]
        sealed = (
            _ISSUED.pack(int(self.clock())) + json.dumps(fields, separators=(",", ":")).encode()
        )
        nonce = os.urandom(_NONCE)
        raw = nonce + self.aead.encrypt(nonce, sealed, _CONTEXT)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def read(self, token: str, purpose: str) -> Grant:
        """The grant in ``token`` for ``purpose``; :class:`LinkError` otherwise."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            sealed = self.aead.decrypt(raw[:_NONCE], raw[_NONCE:], _CONTEXT)
            fields = json.loads(sealed[_ISSUED.size :])
            (issued,) = _ISSUED.unpack(sealed[: _ISSUED.size])
        except (binascii.Error, ValueError, InvalidTag, struct.error):
            raise LinkError(expired=False) from None
        if not isinstance(fields, list) or fields[:1] != [purpose] or len(fields) not in (3, 5):
            raise LinkError(expired=False)
        max_age = UNSUBSCRIBE_TTL if purpose == UNSUBSCRIBE else self.ttl
        if self.clock() - issued > max_age.total_seconds():
            raise LinkError(expired=True)
        category, channel = fields[3:] if len(fields) == 5 else (None, None)
        return Grant(fields[2], purpose, category, channel or None, tenant=fields[1])

    def pages(self, tenant: str, recipient: str, *, discreet: bool = False) -> str | None:
        """The citizen's pages, as a full URL (``discreet``: on the neutral host); None
        without that base URL."""
        base = self.discreet_url if discreet else self.base_url
        if base is None:
            return None
        return f"{base}/me/{self.token(Grant(recipient, PAGES, tenant=tenant))}"

    @property
    def discreet_host(self) -> str | None:
        """The neutral host of discreet links (what a ``Host`` header says); None if unset."""
        return host_of(self.discreet_url)

    def unsubscribe(self, tenant: str, recipient: str, category: str, channel: str) -> str | None:
        if self.base_url is None:
            return None
        grant = Grant(recipient, UNSUBSCRIBE, category, channel, tenant=tenant)
        return f"{self.base_url}/u/{self.token(grant)}"


def host_of(url: str | None) -> str | None:
    """``https://Espace.example.:443/x`` → ``espace.example``: a URL's host, as compared."""
    if not url:
        return None
    return same_form(url.split("://", 1)[-1].split("/", 1)[0])


def same_form(host: str) -> str | None:
    """A host as compared, however written (a browser sends the name as typed, a proxy may
    add the port): lower case, no trailing dot, no default port. ``Espace.Example.:443`` →
    ``espace.example``; ``espace.example:8443`` stays; None if empty."""
    name, port = split_host(host)
    if not name:
        return None
    return name if port in ("", "80", "443") else f"{name}:{port}"


def split_host(host: str) -> tuple[str, str]:
    """``Espace.Example.:8443`` → ``("espace.example", "8443")``; ``[::1]:80`` → ``("[::1]",
    "80")``."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return name + "]", rest.removeprefix(":")
    name, _, port = host.partition(":")
    return name.rstrip("."), port
