"""API keys of upstream clients: stored as SHA-256 digests, each with scopes and a tenant.

``notifier keys add CLIENT --events 'appointment.*' --scopes events,recipients`` prints a
new key once; only its digest is kept (``notifier:apikeys``, digest → client, tenant,
scopes, allowed event types). Keys from ``NOTIFIER_API_KEYS`` (development, or a secret
manager writing the environment) are digested at start-up and may post any event type;
they hold the scopes an upstream client needs (:data:`CLIENT_SCOPES`: not ``ops``) unless
``NOTIFIER_API_KEY_SCOPES`` names theirs.

**Scopes** say what a key may do: ``events`` (post events, read the messages its tenant
planned, read the rules), ``recipients`` (register recipients and their push
subscriptions, read them), ``erase`` (erase a recipient and every record naming them),
``ops`` (log into the support console, ``/ops/``: find messages, cancel, resend, a person's
safe contact, the audit list). An ``ops`` key made without a tenant is a national agent's:
every tenant's messages; one made with ``--tenant`` sees and acts on that tenant's only, as
if the others did not exist. Environment keys have no tenant: national.

**Tenant**: a client's events cancel, move and read only the messages its tenant planned.
A tenant is the client's own name unless ops group clients under one (a booking system and
a front-desk tool of the same unit: ``--tenant unit-75``); never implicitly.

Looking a key up by its digest is as safe as comparing in constant time: an attacker who
cannot find SHA-256 preimages learns nothing from how long a lookup takes. Environment keys
are compared with ``hmac.compare_digest`` all the same.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from notifier.rules.schema import event_matches
from notifier.scopes import NAME_PATTERN, NAME_RULE, Scope, parse_scopes
from notifier.store import PREFIX

KEY = f"{PREFIX}apikeys"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


ALL_SCOPES = frozenset(Scope)
DEFAULT_SCOPES = frozenset({Scope.EVENTS})
CLIENT_SCOPES = frozenset({Scope.EVENTS, Scope.RECIPIENTS, Scope.ERASE})  # environment keys


@dataclass(frozen=True)
class ApiClient:
    name: str
    events: tuple[str, ...] | None = None  # None: any event type
    scopes: frozenset[Scope] = ALL_SCOPES
    tenant_name: str | None = None  # None: the client's own name

    @property
    def tenant(self) -> str:
        """Whose messages this client's events act on and its reads see."""
        return self.tenant_name or self.name

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes

    def may_post(self, event_type: str) -> bool:
        if self.events is None:
            return True
        return any(event_matches(event_type, pattern) for pattern in self.events)


class ApiKeys:
    def __init__(
        self,
        client: redis.Redis,
        environment_keys: dict[str, str],
        environment_scopes: Mapping[str, str] | None = None,
    ) -> None:
        """``environment_scopes``: client → its comma-separated scopes, for the environment
        keys that hold others than :data:`CLIENT_SCOPES`."""
        self.redis = client
        self.environment = [(digest(key), name) for name, key in environment_keys.items()]
        named = environment_scopes or {}
        self.environment_scopes = {c: parse_scopes(s) for c, s in named.items()}

    def identify(self, presented: str) -> ApiClient | None:
        """The client whose key this is, or None."""
        return self.holder(digest(presented))

    def holder(self, key_digest: str) -> ApiClient | None:
        """The client holding the key of this digest now (None once it is revoked)."""
        return self.from_environment(key_digest) or self.stored(key_digest)

    def from_environment(self, key_digest: str) -> ApiClient | None:
        """The environment key's client of this digest, or None; no I/O."""
        found = None
        for known, name in self.environment:
            if hmac.compare_digest(known, key_digest):
                found = ApiClient(name, scopes=self.environment_scopes.get(name, CLIENT_SCOPES))
        return found

    def stored(self, key_digest: str) -> ApiClient | None:
        """The client of a key made with ``notifier keys add``, read from Redis, or None."""
        record = self.redis.hget(KEY, key_digest)
        return None if record is None else _client(json.loads(record))

    def add(
        self,
        name: str,
        events: Iterable[str],
        *,
        scopes: Iterable[Scope] = DEFAULT_SCOPES,
        tenant: str | None = None,
    ) -> str:
        """Create a key for ``name`` and return it; only its digest is stored."""
        for label, value in (("client", name), ("tenant", tenant)):
            if value is not None and not NAME_PATTERN.fullmatch(value):
                raise ValueError(f"{label} {value!r}: {NAME_RULE}")
        key = "nk_" + secrets.token_urlsafe(32)
        record = {
            "client": name,
            "events": list(events),
            "scopes": sorted(s.value for s in scopes),
            "tenant": tenant,
        }
        self.redis.hset(KEY, digest(key), json.dumps(record))
        return key

    def revoke(self, name: str) -> int:
        """Remove every key of ``name``; how many there were."""
        doomed = [d for d, r in self.redis.hgetall(KEY).items() if json.loads(r)["client"] == name]
        return int(self.redis.hdel(KEY, *doomed)) if doomed else 0

    def clients(self) -> list[ApiClient]:
        return sorted(map(_client, map(json.loads, self.redis.hvals(KEY))), key=lambda c: c.name)


def _client(record: dict[str, Any]) -> ApiClient:
    return ApiClient(
        record["client"],
        tuple(record["events"]) if record["events"] else None,
        frozenset(Scope(s) for s in record.get("scopes", [Scope.EVENTS])),
        record.get("tenant"),
    )
