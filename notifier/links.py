"""Links sent to citizens: signed, expiring tokens, never a guessable id.

A token carries the tenant and the recipient id (a recipient belongs to a tenant: the same
id under another tenant is another person) and what it is for (``purpose``), signed with
the secret key (``NOTIFIER_SECRET_KEY``) and dated: anyone holding the link acts for that
person, on that purpose only, until it expires. No phone number or address is ever in a URL.

* ``pages``: the citizen's own pages (preferences, needs, this device, what we sent),
  valid ``NOTIFIER_LINK_TTL_DAYS`` (30 by default);
* ``unsubscribe``: one optional category on one channel (RFC 8058 one-click), valid a
  year: a mailbox keeps e-mails longer than a month.

A discreet message's link is on its own host (``NOTIFIER_DISCREET_PUBLIC_URL``, one that
names nothing), since whoever holds the phone reads it; without one, a discreet message
carries no link rather than the public URL's host, which may name the service.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

PAGES = "pages"
UNSUBSCRIBE = "unsubscribe"
UNSUBSCRIBE_TTL = timedelta(days=365)


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
    ) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="notifier.links")
        self.base_url = base_url.rstrip("/") if base_url else None
        self.discreet_url = discreet_url.rstrip("/") if discreet_url else None
        self.ttl = ttl

    def token(self, grant: Grant) -> str:
        payload = {"t": grant.tenant, "r": grant.recipient, "p": grant.purpose}
        if grant.category:
            payload |= {"c": grant.category, "ch": grant.channel or ""}
        return self.serializer.dumps(payload)

    def read(self, token: str, purpose: str) -> Grant:
        """The grant in ``token`` for ``purpose``; :class:`LinkError` otherwise."""
        max_age = UNSUBSCRIBE_TTL if purpose == UNSUBSCRIBE else self.ttl
        try:
            payload = self.serializer.loads(token, max_age=int(max_age.total_seconds()))
        except SignatureExpired:
            raise LinkError(expired=True) from None
        except BadSignature:
            raise LinkError(expired=False) from None
        # a token of a version without tenants names no one: not valid
        if not isinstance(payload, dict) or payload.get("p") != purpose or "t" not in payload:
            raise LinkError(expired=False)
        return Grant(
            payload["r"],
            purpose,
            payload.get("c"),
            payload.get("ch") or None,
            tenant=payload["t"],
        )

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
    """``https://Espace.example:8443/x`` → ``espace.example:8443``: what a Host header says."""
    if not url:
        return None
    return url.split("://", 1)[-1].split("/", 1)[0].lower() or None
