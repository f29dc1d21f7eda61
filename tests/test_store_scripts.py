"""Each Lua script of the store, called as its header documents (KEYS, ARGV, reply).

tests/test_store.py checks the store's behaviour through its methods; these hold each
``.lua`` file to its own header, so a script and the Python calling it cannot drift apart
unnoticed, and every file names what it takes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from notifier.models import recipient_key
from notifier.rules.engine import plan
from notifier.store import PREFIX, Store
from notifier.store.codec import to_ms
from notifier.store.scripts import LUA, register, source
from tests.support.builders import NOW, REMINDER_RULES, make_event, rules_from

SCRIPTS = sorted(p.stem for p in LUA.glob("*.lua") if p.stem != "helpers")
NOW_MS = to_ms(NOW)


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_names_its_keys_argv_and_reply(name: str) -> None:
    header = []
    for line in (LUA / f"{name}.lua").read_text().splitlines():
        if not line.startswith("--"):
            break
        header.append(line)
    text = "\n".join(header)
    assert header and header[0].startswith(f"-- {name}: "), "first line: name and purpose"
    for part in ("KEYS", "ARGV", "Returns"):
        assert re.search(rf"^-- {part}", text, re.M), f"{name}.lua: no {part} in its header"


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_compiles_on_the_server(name: str, store: Store) -> None:
    sha = store.redis.script_load(source(name))
    assert store.redis.script_exists(sha) == [True]


def test_every_script_is_used_by_the_python_side() -> None:
    from pathlib import Path

    code = "\n".join(p.read_text() for p in Path("notifier").rglob("*.py"))
    for name in SCRIPTS:
        assert f'"{name}"' in code, f"{name}.lua is never registered"


@pytest.fixture
def scripts(store: Store) -> dict[str, Any]:
    return register(store.redis, *SCRIPTS)


def scheduled(store: Store) -> list[str]:
    event = make_event()
    store.accept(
        f"c:{event.id}", plan(event, rules_from(REMINDER_RULES), NOW, client="c"), NOW, ttl=60
    )
    return sorted(store.redis.zrange(f"{PREFIX}due", 0, -1))


def status(store: Store, message_id: str) -> str:
    last = store.redis.hget(f"{PREFIX}msg:{message_id}", "history").splitlines()[-1]
    return str(json.loads(last)[1])


def test_accept(store: Store, scripts: dict[str, Any]) -> None:
    key = f"{PREFIX}idem:c:evt-x"
    reply = scripts["accept"](keys=[key], args=[60, NOW_MS, 3600, "gone-1\n[]", 0, 0])
    assert reply == [1, "gone-1\n[]\n"]
    replay = scripts["accept"](keys=[key], args=[60, NOW_MS, 3600, "other\n[]", 0, 0])
    assert replay == [0, "gone-1\n[]\n", ""]  # the first answer; its message erased since


def test_claim_reap_release(store: Store, scripts: dict[str, Any]) -> None:
    first, second = scheduled(store)
    far = NOW_MS + 10 * 86_400_000
    reply = scripts["claim"](args=[far, 1, 1000])
    assert len(reply) == 2 and reply[1] == 1 and status(store, reply[0]) == "queued"
    assert scripts["reap"](args=[far + 1001, 10]) == 1  # its lease ran out
    assert status(store, reply[0]) == "scheduled"
    again = scripts["claim"](args=[far + 2000, 10, 1000])
    assert sorted(again[0::2]) == [first, second] and set(again[1::2]) <= {1, 2}
    claims = dict(zip(again[0::2], again[1::2], strict=True))
    assert scripts["release"](args=[far + 3000, first, claims[first]]) == 1
    assert status(store, first) == "scheduled" and status(store, second) == "queued"


def claimed(store: Store, scripts: dict[str, Any]) -> tuple[str, int]:
    scheduled(store)
    message_id, claim = scripts["claim"](args=[NOW_MS + 10 * 86_400_000, 1, 60_000])
    return message_id, claim


def test_begin_send_then_provider_call_then_finish(store: Store, scripts: dict[str, Any]) -> None:
    message_id, claim = claimed(store, scripts)
    assert scripts["begin_send"](args=[message_id, claim + 1, NOW_MS, 1000, "a1", 1000]) == [
        "stale",
        "queued",
    ]
    ok, body, attempts, interrupted, excluded, registered, due, watched = scripts["begin_send"](
        args=[message_id, claim, NOW_MS, 1000, "a1", 1000]
    )
    assert (ok, attempts, interrupted, excluded, registered, due) == ("ok", "0", "", "", [], "")
    assert watched == ""  # a store without a contact key keeps no keyed hashes of contacts
    assert json.loads(body)["id"] == message_id
    cap = f"{PREFIX}cap:test"
    assert (
        scripts["provider_call"](
            keys=[cap], args=[message_id, claim, "other-attempt", "sms", NOW_MS, 5, 60_000]
        )
        == 0
    )
    assert (
        scripts["provider_call"](
            keys=[cap], args=[message_id, claim, "a1", "sms", NOW_MS, 5, 60_000]
        )
        == 1
    )
    busy = scripts["begin_send"](args=[message_id, claim, NOW_MS, 1000, "a2", 60_000])
    assert busy[0] == "busy" and 0 < busy[1] <= 60_000
    assert scripts["note"](args=[message_id, NOW_MS, "a note", "sms"]) == 1
    assert status(store, message_id) == "sending"
    finish = [message_id, claim, "sent", NOW_MS, "ref", "sms", 3600, "", "SM1", "", "1"]
    assert scripts["finish"](args=[message_id, claim + 1, *finish[2:]]) == 0
    assert scripts["finish"](args=finish) == 1
    assert status(store, message_id) == "sent"
    assert store.redis.hmget(f"{PREFIX}msg:{message_id}", "reference", "discreet") == ["SM1", "1"]
    assert scripts["begin_send"](args=[message_id, claim, NOW_MS, 1000, "a3", 1000]) == [
        "final",
        "sent",
    ]


def test_provider_call_refuses_a_full_window(store: Store, scripts: dict[str, Any]) -> None:
    message_id, claim = claimed(store, scripts)
    scripts["begin_send"](args=[message_id, claim, NOW_MS, 1000, "a1", 1000])
    cap = f"{PREFIX}cap:full"
    store.redis.zadd(cap, {"someone-else": NOW_MS})
    reply = scripts["provider_call"](
        keys=[cap], args=[message_id, claim, "a1", "sms", NOW_MS, 1, 60_000]
    )
    assert reply == -1


def test_receipt_and_support(store: Store, scripts: dict[str, Any]) -> None:
    message_id, claim = claimed(store, scripts)
    scripts["begin_send"](args=[message_id, claim, NOW_MS, 1000, "a1", 1000])
    scripts["finish"](args=[message_id, claim, "sent", NOW_MS, "", "sms", 3600, "", "SM1", "", "0"])
    assert scripts["receipt"](args=[message_id, "delivered", "sms", NOW_MS, "", "SM2"]) == (
        "other-attempt"
    )
    assert scripts["receipt"](args=[message_id, "failed", "sms", NOW_MS, "30003", "SM1"]) == (
        "fallback"
    )
    assert status(store, message_id) == "scheduled"
    assert scripts["support"](args=[message_id, "resend", NOW_MS, "r", 3600]) == ["scheduled", 0]
    assert scripts["support"](args=[message_id, "cancel", NOW_MS, "asked by phone", 3600]) == [
        "scheduled",
        1,
    ]
    assert status(store, message_id) == "cancelled"
    assert scripts["support"](args=["nope", "cancel", NOW_MS, "r", 3600]) == ["missing"]


def test_erase(store: Store, scripts: dict[str, Any]) -> None:
    message_ids = scheduled(store)
    body = json.loads(store.redis.hget(f"{PREFIX}msg:{message_ids[0]}", "body"))
    owner = recipient_key(body["tenant"], body["recipient"]["id"])  # "c|citizen-1"
    key = f"{PREFIX}recipient:{owner}"
    store.redis.hset(key, "locale", "fr")
    assert scripts["erase"](keys=[key], args=[owner]) == 2
    assert not store.redis.exists(key, *(f"{PREFIX}msg:{i}" for i in message_ids))
