"""Addresses that come from outside: the push endpoints the worker calls, the links a message
carries. Pure checks, each answering None (accepted) or why not (never echoing the address).

* A **push endpoint** (a browser's subscription, given by a citizen's page or an upstream
  system) is an ``https`` URL on one of the push services browsers use, as listed by
  ``NOTIFIER_PUSH_ALLOWED_HOSTS``: ``host`` exactly, or ``*.suffix`` for any host under
  ``suffix``, on the default port. Plain ``http`` only to a loopback host the setting names
  explicitly as ``http://127.0.0.1`` (a push service on the same machine: tests, development),
  never in the default. Checked where a subscription comes in (4xx naming the field) and
  again just before each push (a subscription stored earlier, or a setting changed since).
* A **link** written into a message (an e-mail's ``href``, a push's ``url``) is ``https``, or
  ``http`` to a loopback host (a development machine): ``javascript:``, ``data:`` and the rest
  are refused.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

# The push services of the browsers people use: their subscriptions' endpoints.
PUSH_SERVICES = (
    "fcm.googleapis.com",  # Chrome, Chromium-based browsers on Android, Opera, Samsung Internet
    "updates.push.services.mozilla.com",  # Firefox (Mozilla's autopush)
    "*.push.services.mozilla.com",
    "web.push.apple.com",  # Safari on macOS 13+, iOS and iPadOS 16.4+
    "*.notify.windows.com",  # Edge on Windows (WNS)
)

# Printable ASCII without spaces or backslashes: what browsers and HTTP clients read alike.
_PLAIN = re.compile(r"^[\x21-\x5b\x5d-\x7e]+$")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split(url: str) -> SplitResult | None:
    """``url`` split, if it is a plain absolute URL with a host and no user name or password."""
    if not _PLAIN.match(url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        return None
    if not parts.hostname or "@" in parts.netloc:
        return None
    return parts


def push_entry_problem(entry: str) -> str | None:
    """Why an entry of ``NOTIFIER_PUSH_ALLOWED_HOSTS`` is not one; None if it is."""
    if entry.startswith("http://"):
        host = entry.removeprefix("http://")
        return None if is_loopback(host) else "plain http is only for a loopback host"
    if not re.fullmatch(r"(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+", entry):
        return "a host name (fcm.googleapis.com) or *.suffix (*.notify.windows.com)"
    return None


def push_endpoint_problem(endpoint: str, allowed: Iterable[str]) -> str | None:
    """Why the worker must not call ``endpoint``; None if it is on an allowed push service."""
    parts = _split(endpoint)
    if parts is None:
        return "must be an absolute URL, without spaces, user name or password"
    host = parts.hostname or ""
    if parts.scheme == "http":
        if f"http://{host}" in allowed and is_loopback(host):
            return None
        return "must be an https URL of a browser's push service"
    if parts.scheme != "https":
        return "must be an https URL of a browser's push service"
    if parts.port not in (None, 443):
        return "must use the push service's default port"
    for entry in allowed:
        if entry == host or (entry.startswith("*.") and host.endswith(entry[1:])):
            return None
    return "is not on a browser's push service (NOTIFIER_PUSH_ALLOWED_HOSTS)"


def link_problem(url: object) -> str | None:
    """Why ``url`` may not be a link in a message; None for https, or http to loopback."""
    parts = _split(str(url))
    if parts is None:
        return "must be an absolute https URL, without spaces, user name or password"
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or "")):
        return None
    return "must be an https URL"
