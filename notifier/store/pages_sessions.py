"""The sessions a discreet person's code opens on their pages, kept in Redis.

The cookie holds only a random id; ``pages-session:{digest of the id}`` names the person
(``{tenant}|{id}``) for :data:`SESSION_SECONDS`, and ``pages-sessions:{tenant}|{id}`` lists
the person's open ones. So a session ends on the server, not only in the browser: at the
quick exit (a copy of the cookie opens nothing after it), and all of the person's at once
when their code is set again (an agent's reset: whoever opened the pages with the old code
is out).
"""

from __future__ import annotations

import hashlib
import secrets

import redis

from notifier.models import recipient_key
from notifier.store.codec import PREFIX

SESSION_SECONDS = 15 * 60


def _session(session_id: str) -> str:
    return f"{PREFIX}pages-session:{hashlib.sha256(session_id.encode()).hexdigest()}"


def _of(person: str) -> str:
    return f"{PREFIX}pages-sessions:{person}"


class PagesSessions:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def open(self, tenant: str, recipient_id: str) -> str:
        """A new session on the person's pages: its id, for the cookie."""
        session_id = secrets.token_urlsafe(32)
        person = recipient_key(tenant, recipient_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(_session(session_id), person, ex=SESSION_SECONDS)
        pipe.sadd(_of(person), _session(session_id))
        pipe.expire(_of(person), SESSION_SECONDS)
        pipe.execute()
        return session_id

    def opens(self, session_id: str, tenant: str, recipient_id: str) -> bool:
        """Whether ``session_id`` is an open session on this person's pages."""
        if not session_id:
            return False
        return self.redis.get(_session(session_id)) == recipient_key(tenant, recipient_id)

    def close(self, session_id: str) -> None:
        """End this session (the quick exit)."""
        if not session_id:
            return
        person = self.redis.getdel(_session(session_id))
        if person is not None:
            self.redis.srem(_of(str(person)), _session(session_id))

    def end_all(self, tenant: str, recipient_id: str) -> None:
        """End every session on the person's pages (their code was set again)."""
        person = _of(recipient_key(tenant, recipient_id))
        keys: set[str] = self.redis.smembers(person)  # type: ignore[assignment]
        self.redis.delete(person, *keys)
