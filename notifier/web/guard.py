"""What protects the citizen pages: signed links, CSRF tokens, a request rate per client.

The pages have no login: the signed link *is* the credential, so forms carry a CSRF token
derived from it (an attacker's page cannot compute it), and each client address gets a
bounded number of requests per minute, counted in Redis (so every API instance shares it).
"""

from __future__ import annotations

import hashlib
import hmac
import time

import redis

from notifier.store import PREFIX

REQUESTS_PER_MINUTE = 120


class PageError(Exception):
    """A page that cannot be served: answered with ``status`` and the words of ``key``."""

    def __init__(
        self, status: int, key: str, lang: str = "fr", *, retry_after: int | None = None
    ) -> None:
        self.status, self.key, self.lang, self.retry_after = status, key, lang, retry_after
        super().__init__(key)


def csrf_token(secret: bytes, link_token: str) -> str:
    return hmac.new(secret, b"csrf|" + link_token.encode(), hashlib.sha256).hexdigest()[:32]


def same_token(expected: str, presented: str) -> bool:
    """Whether a form's token is the one expected, in constant time; as bytes, since a
    presented one may hold any character (compared as text, one outside ASCII raised)."""
    return hmac.compare_digest(expected.encode(), presented.encode())


def check_csrf(secret: bytes, link_token: str, presented: str | None, lang: str) -> None:
    if not presented or not same_token(csrf_token(secret, link_token), presented):
        raise PageError(403, "error.form", lang)


def within_rate(client: redis.Redis, address: str, lang: str = "fr") -> None:
    """Count one request from ``address``; a :class:`PageError` 429 past the minute's quota."""
    digest = hashlib.sha256(address.encode()).hexdigest()[:16]  # no address kept in clear
    now = int(time.time())
    key = f"{PREFIX}web-rate:{digest}:{now // 60}"
    pipe = client.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, 120)
    count, _ = pipe.execute()
    if int(count) > REQUESTS_PER_MINUTE:
        raise PageError(429, "error.rate", lang, retry_after=60 - now % 60)  # the next minute
