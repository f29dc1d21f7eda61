"""The short code that opens a discreet person's pages: set, checked, slowed and limited.

Kept in the person's recipient hash (:mod:`notifier.store.recipients`, which this class is
a part of): ``safety-code`` (the salted scrypt hash of the code) and ``code-lockouts``;
``code-tries:{tenant}|{id}`` counts wrong codes in a row (expiring with the lock), and
``code-tries:{tenant}|{id}:wait`` (expiring after :data:`CODE_DELAY` ms, taken by each try as
it starts) refuses the try after a wrong code, or beside one under way, until then: slowed in
the store, no request waits.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
from datetime import date

import redis

from notifier.models import recipient_key
from notifier.store.codec import PREFIX, recipient_hash
from notifier.store.pages_sessions import PagesSessions

CODE_TRIES = 5  # wrong codes in a row before the pages lock
CODE_LOCK = 900  # seconds
CODE_LOCKOUTS = 3  # locks in a row before the code is shut until it is set again
CODE_DELAY = 1000  # ms after a wrong code before the next try is checked (slowed, in the store)


def guessable(code: str) -> bool:
    """A code whoever watches the person tries first, within the few tries the gate allows:
    one digit repeated, a run up or down (``123456``, ``876543``), or a date (``DDMMYY``,
    ``DDMMYYYY``, ``YYYYMMDD``: a birthday, which the person's abuser knows). Refused when a
    code is chosen; one set before still opens."""
    steps = {int(b) - int(a) for a, b in itertools.pairwise(code)}
    if len(steps) == 1 and steps <= {-1, 0, 1}:
        return True
    if len(code) == 6:
        return _is_date(code[:2], code[2:4], "2000")  # any year: a leap one, for 29 February
    if len(code) == 8:
        return _is_date(code[:2], code[2:4], code[4:]) or _is_date(code[6:], code[4:6], code[:4])
    return False


def _is_date(day: str, month: str, year: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def _code_hash(code: str, salt: bytes) -> str:
    return hashlib.scrypt(code.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32).hex()


def tries_key(tenant: str, recipient_id: str) -> str:
    return f"{PREFIX}code-tries:{recipient_key(tenant, recipient_id)}"


class PagesCodes:
    redis: redis.Redis

    def set_code(self, tenant: str, recipient_id: str, code: str) -> None:
        """The short code that opens a discreet person's pages, kept as a salted scrypt hash.
        Setting it again (an agent's reset) clears the tries, the slowing and the locks, and
        ends every session the old code opened."""
        salt = secrets.token_bytes(16)
        value = f"{salt.hex()}${_code_hash(code, salt)}"
        key = recipient_hash(tenant, recipient_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, "safety-code", value)
        pipe.hdel(key, "code-lockouts")
        pipe.delete(tries_key(tenant, recipient_id), f"{tries_key(tenant, recipient_id)}:wait")
        pipe.execute()
        PagesSessions(self.redis).end_all(tenant, recipient_id)

    def has_code(self, tenant: str, recipient_id: str) -> bool:
        return bool(self.redis.hexists(recipient_hash(tenant, recipient_id), "safety-code"))

    def check_code(self, tenant: str, recipient_id: str, code: str) -> tuple[str, int]:
        """The verdict on ``code`` and the tries left before the pages lock (for ``early``, the
        seconds to wait): ``ok``, ``wrong`` (the next try is ``early``, not counted, for
        :data:`CODE_DELAY` ms; so is a try sent while another is being checked), ``locked``
        after :data:`CODE_TRIES` wrong codes in a row (for :data:`CODE_LOCK` seconds from the
        first of them; a right code then fails too), or
        ``shut`` after :data:`CODE_LOCKOUTS` such locks with no right code between (the
        hash's ``code-lockouts`` counts them), until the code is set again
        (:meth:`set_code`, by an agent at the person's request)."""
        key, counter = recipient_hash(tenant, recipient_id), tries_key(tenant, recipient_id)
        wait = f"{counter}:wait"
        pipe = self.redis.pipeline()
        pipe.hget(key, "code-lockouts")
        # each try holds the next CODE_DELAY ms as it starts (SET NX): tries sent together
        # are slowed too, one is checked and the others are early
        pipe.set(wait, 1, px=CODE_DELAY, nx=True)
        pipe.pttl(wait)
        lockouts, holds, left_ms = pipe.execute()
        if int(lockouts or 0) >= CODE_LOCKOUTS:
            return "shut", 0
        if not holds:
            return "early", -(-left_ms // 1000)
        pipe.incr(counter)
        pipe.expire(counter, CODE_LOCK, nx=True)
        verdict = self._verdict(key, counter, code, int(pipe.execute()[0]))
        if verdict[0] != "wrong":  # only a wrong code slows the next try
            self.redis.delete(wait)
        return verdict

    def _verdict(self, key: str, counter: str, code: str, tries: int) -> tuple[str, int]:
        """:meth:`check_code`'s verdict on ``code``, the ``tries``-th in a row."""
        if tries > CODE_TRIES:
            return "locked", 0
        stored = str(self.redis.hget(key, "safety-code") or "")
        salt, _, digest = stored.partition("$")
        if stored and hmac.compare_digest(_code_hash(code, bytes.fromhex(salt)), digest):
            self.redis.delete(counter)
            self.redis.hdel(key, "code-lockouts")
            return "ok", CODE_TRIES
        if tries < CODE_TRIES:
            return "wrong", CODE_TRIES - tries
        # this wrong code locks the pages (one request only reaches it: INCR counts once)
        locks = int(self.redis.hincrby(key, "code-lockouts", 1))
        return ("shut" if locks >= CODE_LOCKOUTS else "locked"), 0
