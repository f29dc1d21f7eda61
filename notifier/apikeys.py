"""API keys of upstream clients: stored as SHA-256 digests, each allowed some event types.

``notifier keys add CLIENT --events 'appointment.*'`` prints a new key once; only its
digest is kept (``notifier:apikeys``, digest → client and allowed types). Keys from
``NOTIFIER_API_KEYS`` (development, or a secret manager writing the environment) are
digested at start-up and may post any event type.

Looking a key up by its digest is as safe as comparing in constant time: an attacker who
cannot find SHA-256 preimages learns nothing from how long a lookup takes. Environment keys
are compared with ``hmac.compare_digest`` all the same.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from notifier.rules.schema import event_matches
from notifier.store import PREFIX

KEY = f"{PREFIX}apikeys"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiClient:
    name: str
    events: tuple[str, ...] | None = None  # None: any event type

    def may_post(self, event_type: str) -> bool:
        if self.events is None:
            return True
        return any(event_matches(event_type, pattern) for pattern in self.events)


class ApiKeys:
    def __init__(self, client: redis.Redis, environment_keys: dict[str, str]) -> None:
        self.redis = client
        self.environment = [(digest(key), name) for name, key in environment_keys.items()]

    def identify(self, presented: str) -> ApiClient | None:
        """The client whose key this is, or None."""
        presented_digest = digest(presented)
        found = None
        for known, name in self.environment:
            if hmac.compare_digest(known, presented_digest):
                found = ApiClient(name)
        if found is not None:
            return found
        stored = self.redis.hget(KEY, presented_digest)
        if stored is None:
            return None
        record = json.loads(stored)
        return ApiClient(record["client"], tuple(record["events"]) if record["events"] else None)

    def add(self, name: str, events: Iterable[str]) -> str:
        """Create a key for ``name`` and return it; only its digest is stored."""
        key = "nk_" + secrets.token_urlsafe(32)
        record = {"client": name, "events": list(events)}
        self.redis.hset(KEY, digest(key), json.dumps(record))
        return key

    def revoke(self, name: str) -> int:
        """Remove every key of ``name``; how many there were."""
        doomed = [d for d, r in self.redis.hgetall(KEY).items() if json.loads(r)["client"] == name]
        return int(self.redis.hdel(KEY, *doomed)) if doomed else 0

    def clients(self) -> list[ApiClient]:
        return sorted(
            (
                ApiClient(r["client"], tuple(r["events"]))
                for r in map(json.loads, self.redis.hvals(KEY))
            ),
            key=lambda c: c.name,
        )
