"""Support agents' console sessions, kept in Redis: they end at logout and with the key.

The cookie holds only a random session id; Redis keeps, under its digest (a copy of Redis
opens no session), the agent and the digest of the key they logged in with, expiring after
:data:`SESSION`. Each request reads the session and the key again: a logout deletes the
session, and ``notifier keys revoke`` (or an ``ops`` scope taken away) ends it at the next
request. A signed cookie alone could do neither: a copy of it would stay valid until it
expires, whatever the agent or ops did.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from notifier.store import PREFIX
from notifier.store.apikeys import ApiKeys, Scope

SESSION = timedelta(hours=8)


@dataclass(frozen=True)
class OpsAgent:
    """A support agent logged in: their name, and the tenant their key is confined to (a key
    made with ``--tenant``), or None for a national agent (every tenant's messages)."""

    name: str
    tenant: str | None

    def sees(self, tenant: str) -> bool:
        """Whether this agent may see and act on what belongs to ``tenant``."""
        return self.tenant is None or self.tenant == tenant


def _key(session_id: str) -> str:
    return f"{PREFIX}ops-session:{hashlib.sha256(session_id.encode()).hexdigest()}"


class Sessions:
    def __init__(self, keys: ApiKeys) -> None:
        self.keys = keys
        self.redis = keys.redis

    def open(self, agent: str, key: str) -> str:
        """A new session for ``agent``, who logged in with ``key``: its id, for the cookie."""
        session_id = secrets.token_urlsafe(32)
        record = {"agent": agent, "key": hashlib.sha256(key.encode()).hexdigest()}
        self.redis.set(_key(session_id), json.dumps(record), ex=SESSION)
        return session_id

    def agent(self, session_id: str) -> OpsAgent | None:
        """The agent of this session while it lasts and their key still opens the console,
        with the tenant their key holds now."""
        if not session_id:
            return None
        stored = self.redis.get(_key(session_id))
        if stored is None:
            return None
        record = json.loads(stored)
        holder = self.keys.holder(record["key"])
        if holder is None or holder.name != record["agent"] or not holder.may(Scope.OPS):
            return None
        return OpsAgent(holder.name, holder.tenant_name)

    def close(self, session_id: str) -> None:
        self.redis.delete(_key(session_id))
