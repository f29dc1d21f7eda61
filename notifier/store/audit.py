"""The audit list of support and safety actions: ``notifier:audit``, newest first, the last
:data:`KEPT`, shown on the console's overview.

An entry says who acted (``agent``: the agent's name in the console, the API client's name
through the API) and where (``via``: ``ops`` or ``api``), what they did (words that name no
contact, time or code), to what (``target``: a message id in the console, a recipient id
through the API) and why (``reason``: the agent's; the API asks none), and whose it is
(``tenant``: the message's or the recipient's): an agent whose key is confined to a tenant
sees only that tenant's entries, a national agent every one (and only they see entries of
older versions, which have none). The log says the same without the reason, which may name
people.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Literal

import redis

from notifier.store import PREFIX

AUDIT = f"{PREFIX}audit"
KEPT = 1000
log = logging.getLogger("notifier.audit")


def record(
    client: redis.Redis,
    who: str,
    action: str,
    target: str,
    reason: str = "",
    *,
    tenant: str,
    via: Literal["ops", "api"] = "ops",
) -> None:
    """``who`` did ``action`` to ``target`` (of ``tenant``), for ``reason``."""
    entry = {
        "at": int(time.time()),
        "tenant": tenant,
        "agent": who,
        "via": via,
        "action": action,
        "target": target,
        "reason": reason,
    }
    pipe = client.pipeline(transaction=False)
    pipe.lpush(AUDIT, json.dumps(entry, ensure_ascii=False))
    pipe.ltrim(AUDIT, 0, KEPT - 1)
    pipe.execute()
    log.info("%s %s: %s %s", via, who, action, target)  # the reason may name people: not logged


def recent(client: redis.Redis, count: int, *, tenant: str | None) -> list[dict[str, Any]]:
    """The latest ``count`` entries of ``tenant`` (of every tenant: None), newest first."""
    if tenant is None:
        return [json.loads(e) for e in client.lrange(AUDIT, 0, count - 1)]
    entries = (json.loads(e) for e in client.lrange(AUDIT, 0, KEPT - 1))
    return [e for e in entries if e.get("tenant") == tenant][:count]
