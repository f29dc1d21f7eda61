"""Who decided a person's safety, and when: the latest decision wins, whoever made it; safety
sent inline in an event holds for the person's next events and pages, and may only tighten.
The API in-process over a real store, the real worker logic, the real pages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from notifier.channels.base import Outcome, SendResult
from notifier.links import PAGES, Grant, Links
from notifier.models import Channel, Contacts, Recipient, Safety
from notifier.rules.engine import plan
from notifier.store import Store
from notifier.store.codec import recipient_hash
from notifier.store.recipients import RecipientStore
from notifier.store.safety_decisions import decision_in
from notifier.store.scripts import source
from tests.support.builders import (
    CONTACT_KEY,
    NOW,
    ScriptedTransport,
    api_client,
    deliver_all,
    deliverer,
    make_event,
    rules_from,
)

KEY = {"Authorization": "Bearer recipients-key"}
TENANT = "t"
LINKS = Links(CONTACT_KEY, None, ttl=timedelta(days=30), discreet_url="https://espace.example")
PERSON: dict[str, Any] = {"id": "c-1", "contacts": {"phone": "+33612345678"}}
DISCREET = {"discreet": True}
CONFIRM = """
rules:
  - id: confirmation
    trigger: [appointment.booked]
    at: immediately
    template: appointment_confirmation
    channels: [sms]
"""


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    keys = {TENANT: "recipients-key", "u": "other-tenant-key"}
    with api_client(store, CONFIRM, tmp_path, keys) as client:
        yield client


def recipients(store: Store) -> RecipientStore:
    return RecipientStore(store.redis, contact_key=CONTACT_KEY)


def post(api: TestClient, n: int, recipient: dict[str, Any], headers: dict[str, str] = KEY) -> None:
    event = make_event(id=f"e-{n}", subject=f"appointment:A-{n}").model_dump(mode="json")
    answer = api.post("/v1/events", json=event | {"recipient": recipient}, headers=headers)
    assert answer.status_code == 202, answer.text


def sent_discreet(store: Store) -> list[bool]:
    """Deliver what is due; whether each message went discreet."""
    return [m.discreet for m in delivered(store)]


def delivered(store: Store) -> list[Any]:
    """Deliver what is due; the messages handed to the SMS provider."""
    sms = ScriptedTransport(*[SendResult(Outcome.SENT, reference=f"s{n}") for n in range(20)])
    worker = deliverer(store, {Channel.SMS: sms}, at=NOW, links=LINKS, recipients=recipients(store))
    deliver_all(worker, NOW, limit=50)
    return list(sms.sent)


def safety_of(api: TestClient) -> dict[str, Any]:
    answer = api.get(f"/v1/recipients/{PERSON['id']}", headers=KEY)
    assert answer.status_code == 200
    return dict(answer.json()["safety"] or {})


# --- 1. the latest decision wins --------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "then", "discreet"),
    [
        pytest.param("person", "upstream", False, id="api-after-the-person"),
        pytest.param("upstream", "person", False, id="person-after-api"),
    ],
)
def test_the_latest_decision_wins_whoever_made_it(
    api: TestClient, store: Store, first: str, then: str, discreet: bool
) -> None:
    """The person turns discreet messages on, then asks the intake agent to turn them off
    (a PUT): off. And the other way round."""

    def decide(by: str, value: bool) -> None:
        if by == "person":  # what their "Staying safe" page does
            recipients(store).set_safety(TENANT, PERSON["id"], Safety(discreet=value))
        else:
            body = PERSON | {"safety": {"discreet": value}}
            assert api.put(f"/v1/recipients/{PERSON['id']}", json=body, headers=KEY).is_success

    assert api.put(f"/v1/recipients/{PERSON['id']}", json=PERSON, headers=KEY).is_success
    decide(first, not discreet)
    decide(then, discreet)
    assert safety_of(api)["discreet"] is discreet
    post(api, 1, {"id": PERSON["id"]})
    assert set(sent_discreet(store)) == {discreet}


def test_a_registration_without_safety_changes_no_decision(api: TestClient, store: Store) -> None:
    recipients(store).set_safety(TENANT, PERSON["id"], Safety(discreet=True))
    assert api.put(f"/v1/recipients/{PERSON['id']}", json=PERSON, headers=KEY).is_success
    assert safety_of(api)["discreet"] is True


def test_a_registration_saying_again_what_it_said_does_not_undo_a_later_choice(
    api: TestClient, store: Store
) -> None:
    """The intake agent registered discreet messages; the person paused all contact since.
    The upstream system re-sends its record, safety unchanged: the pause stands. A new value
    in the record is a new decision."""
    body = PERSON | {"safety": DISCREET}
    assert api.put(f"/v1/recipients/{PERSON['id']}", json=body, headers=KEY).is_success
    paused = Safety(discreet=True, paused=True)
    recipients(store).set_safety(TENANT, PERSON["id"], paused)
    assert api.put(f"/v1/recipients/{PERSON['id']}", json=body, headers=KEY).is_success
    assert safety_of(api)["paused"] is True
    changed = PERSON | {"safety": {"discreet": True, "channels": ["sms"]}}
    assert api.put(f"/v1/recipients/{PERSON['id']}", json=changed, headers=KEY).is_success
    assert safety_of(api)["paused"] is False and safety_of(api)["channels"] == ["sms"]


# --- 2. safety sent inline sticks --------------------------------------------------------


def test_inline_safety_holds_for_the_next_events_and_the_pages(
    api: TestClient, store: Store
) -> None:
    """A person never registered: the first event says discreet, the next one says nothing
    about safety (an upstream system that forgot): still discreet, pages still shut."""
    post(api, 1, PERSON | {"safety": DISCREET})
    post(api, 2, PERSON)
    assert set(sent_discreet(store)) == {True}
    token = LINKS.token(Grant(PERSON["id"], PAGES, tenant=TENANT))
    page = api.get(f"/me/{token}")
    assert page.status_code == 200
    assert "<title>Mon espace</title>" in page.text and "Mes choix" not in page.text


@pytest.mark.parametrize(
    ("later", "expected"),
    [
        pytest.param({"discreet": False}, {"discreet": True}, id="cannot-loosen"),
        pytest.param(
            {"channels": ["email"]}, {"discreet": True, "channels": ["email"]}, id="can-tighten"
        ),
    ],
)
def test_an_event_may_tighten_never_loosen(
    api: TestClient, store: Store, later: dict[str, Any], expected: dict[str, Any]
) -> None:
    post(api, 1, PERSON | {"safety": DISCREET})
    post(api, 2, PERSON | {"safety": later})
    fields = recipients(store).fields(TENANT, PERSON["id"])
    current = RecipientStore.current(fields, make_event().recipient)
    assert current.safe == Safety.model_validate(expected)


def test_an_event_saying_again_what_it_said_does_not_undo_the_persons_choice(
    api: TestClient, store: Store
) -> None:
    """The upstream system keeps sending the safety of its record; the person turned
    discreet messages off since: what is said again is not a new decision."""
    post(api, 1, PERSON | {"safety": DISCREET})
    recipients(store).set_safety(TENANT, PERSON["id"], Safety())
    post(api, 2, PERSON | {"safety": DISCREET})
    assert set(sent_discreet(store)) == {False}


# --- 5. a contact marked discreet by one tenant, for every tenant -----------------------

OTHER = {"Authorization": "Bearer other-tenant-key"}


def test_a_contact_marked_discreet_by_one_tenant_gets_discreet_wording_from_all(
    api: TestClient, store: Store
) -> None:
    """Tenant t's person has discreet messages; tenant u writes to the same phone for a
    person of its own who set nothing: discreet too. Once t's person turns them off, or is
    erased, u's messages are standard again. The set names no phone in clear."""
    body = PERSON | {"safety": DISCREET}
    assert api.put(f"/v1/recipients/{PERSON['id']}", json=body, headers=KEY).is_success
    neighbour = {"id": "u-7", "contacts": PERSON["contacts"]}
    post(api, 1, neighbour, OTHER)
    (message,) = delivered(store)
    # discreet, and no link: u's pages for its person ask no code and would show what u sent
    assert message.discreet and message.links == {}
    members = store.redis.zrange("notifier:discreet-contacts", 0, -1)
    assert len(members) == 1 and "612345678" not in str(members)
    body = PERSON | {"safety": {"discreet": False}}
    assert api.put(f"/v1/recipients/{PERSON['id']}", json=body, headers=KEY).is_success
    post(api, 2, neighbour, OTHER)
    assert sent_discreet(store) == [False]
    body = PERSON | {"safety": DISCREET}
    assert api.put(f"/v1/recipients/{PERSON['id']}", json=body, headers=KEY).is_success
    assert api.delete(f"/v1/recipients/{PERSON['id']}", headers=KEY).is_success
    post(api, 3, neighbour, OTHER)
    assert sent_discreet(store) == [False]
    assert store.redis.zcard("notifier:discreet-contacts") == 0


# --- 6. the marks follow the decision and the contacts, on every path ------------------

NEW_PHONE = "+33698765432"


def page_decides(discreet: bool) -> Any:
    """What the person's "Staying safe" page saves (a person known only from events too)."""

    def step(api: TestClient, store: Store) -> None:
        recipients(store).set_safety(TENANT, PERSON["id"], Safety(discreet=discreet))

    return step


def event(n: int, recipient: dict[str, Any]) -> Any:
    return lambda api, store: post(api, n, recipient)


def put(body: dict[str, Any]) -> Any:
    def step(api: TestClient, store: Store) -> None:
        assert api.put(f"/v1/recipients/{PERSON['id']}", json=body, headers=KEY).is_success

    return step


MOVED = {"id": PERSON["id"], "contacts": {"phone": NEW_PHONE}}


@pytest.mark.parametrize(
    ("steps", "marked"),
    [
        pytest.param(
            [event(1, PERSON), page_decides(True)],
            {PERSON["contacts"]["phone"]},
            id="known-only-from-events-decides-on-the-page",
        ),
        pytest.param(
            [event(1, PERSON | {"safety": DISCREET}), page_decides(False), page_decides(True)],
            {PERSON["contacts"]["phone"]},
            id="discreet-off-then-on",
        ),
        pytest.param(
            [put(PERSON | {"safety": DISCREET}), put(MOVED)],
            {NEW_PHONE},
            id="a-put-without-safety-changes-the-phone",
        ),
        pytest.param(
            [put(PERSON | {"safety": DISCREET}), put(MOVED | {"safety": {"discreet": False}})],
            set(),
            id="a-put-turns-discreet-off",
        ),
        pytest.param(
            [put(PERSON), event(1, MOVED | {"safety": DISCREET})],
            {PERSON["contacts"]["phone"]},
            id="an-event-tightens-a-registered-person-whose-contacts-are-registered",
        ),
    ],
)
def test_the_marks_follow_the_decision_and_the_current_contacts(
    api: TestClient, store: Store, steps: list[Any], marked: set[str]
) -> None:
    """Whatever path decided the person's safety or changed their contacts, the contacts
    marked discreet for every tenant are those of the decision in force and of the person's
    contacts now; another tenant's message to each goes discreet, to the others not."""
    for step in steps:
        step(api, store)
    phones = [PERSON["contacts"]["phone"], NEW_PHONE]
    found = {p for p in phones if recipients(store).safety.marked(Contacts(phone=p))}
    assert found == marked
    delivered(store)  # the person's own messages first: not the subject here
    for n, phone in enumerate(phones):
        post(api, 10 + n, {"id": f"u-{n}", "contacts": {"phone": phone}}, OTHER)
    sent = {m.address: m.discreet for m in delivered(store)}
    assert sent == {p: p in marked for p in phones}


# --- 7. the API's safety actions are audited with the client ----------------------------


def audited(store: Store) -> list[dict[str, Any]]:
    return [json.loads(e) for e in store.redis.lrange("notifier:audit", 0, -1)]


def test_a_put_changing_the_safety_is_audited_with_the_client(
    api: TestClient, store: Store
) -> None:
    """As the console's actions are: who (the client), what changed, naming no contact, time
    or code; a PUT that changes nothing in the safety is not recorded."""
    hours = {"discreet": True, "safe_hours": {"start": "09:00", "end": "17:00"}}
    for body in (PERSON | {"safety": DISCREET}, PERSON | {"safety": DISCREET}, PERSON):
        assert api.put(f"/v1/recipients/{PERSON['id']}", json=body, headers=KEY).is_success
    assert api.put(
        f"/v1/recipients/{PERSON['id']}", json=PERSON | {"safety": hours}, headers=KEY
    ).is_success
    entries = audited(store)
    assert [(e["agent"], e["tenant"], e["via"], e["action"], e["target"]) for e in entries] == [
        (TENANT, TENANT, "api", "safety settings: safe hours", PERSON["id"]),
        (TENANT, TENANT, "api", "safety settings: discreet on", PERSON["id"]),
    ]
    assert "612345678" not in str(entries) and "09:00" not in str(entries)


def test_resume_and_a_new_code_reach_a_person_known_only_from_events_and_are_audited(
    api: TestClient, store: Store
) -> None:
    """The console can act for a person an event carried inline; the API can too (another
    tenant still finds nobody under that id), and each action is audited with the client."""
    post(api, 1, PERSON | {"safety": {"paused": True}})
    assert delivered(store) == []  # withheld: the person paused all contact
    resume, code = f"/v1/recipients/{PERSON['id']}/resume", f"/v1/recipients/{PERSON['id']}/code"
    assert api.post(resume, json={"send_missed": True}, headers=OTHER).status_code == 404
    assert api.post(code, json={"code": "864213"}, headers=OTHER).status_code == 404
    resumed = api.post(resume, json={"send_missed": True}, headers=KEY)
    assert resumed.status_code == 200 and len(resumed.json()["resent"]) == 1
    assert api.post(code, json={"code": "864213"}, headers=KEY).status_code == 200
    assert recipients(store).check_code(TENANT, PERSON["id"], "864213") == ("ok", 5)
    assert len(delivered(store)) == 1  # what was missed, sent now
    entries = audited(store)
    assert [(e["agent"], e["tenant"], e["via"], e["action"], e["target"]) for e in entries] == [
        (TENANT, TENANT, "api", "new pages code", PERSON["id"]),
        (TENANT, TENANT, "api", "safety settings: pause off, 1 withheld sent again", PERSON["id"]),
    ]
    assert "864213" not in str(entries)


# --- 8. a form shown before an event's tightening does not undo it -----------------------


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def test_a_page_shown_before_an_events_tightening_does_not_undo_it(
    api: TestClient, store: Store
) -> None:
    """The person opens "Staying safe"; meanwhile an event pauses all contact; the form,
    saved as it was shown (no pause), is refused with a message asking to review, and the
    page shows the pause. Saved again from the page as it is now, it counts."""
    post(api, 1, PERSON)
    token = LINKS.token(Grant(PERSON["id"], PAGES, tenant=TENANT))
    shown = api.get(f"/me/{token}/safety")
    assert shown.status_code == 200
    post(api, 2, PERSON | {"safety": {"paused": True}})
    stale = api.post(f"/me/{token}/safety", data=hidden_fields(shown.text), follow_redirects=False)
    assert stale.status_code == 303 and "stale=1" in stale.headers["location"]
    assert safety_of_person(store).paused
    again = api.get(stale.headers["location"])
    assert "Voici vos réglages actuels" in again.text
    assert re.search(r'name="paused" value="1" checked', again.text)
    saved = api.post(f"/me/{token}/safety", data=hidden_fields(again.text), follow_redirects=False)
    assert "saved=1" in saved.headers["location"] and not safety_of_person(store).paused


def safety_of_person(store: Store) -> Safety:
    decided = decision_in(recipients(store).fields(TENANT, PERSON["id"]))
    assert decided is not None
    return decided.safety


# --- 6. the worker learns it with the lease: no round trip of its own ---------------------


@pytest.fixture
def keyed_api(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    """The API over the store as ``notifier api`` builds it: with its contact key, so that
    the records keep their contacts' keyed hashes."""
    keys = {TENANT: "recipients-key", "u": "other-tenant-key"}
    with api_client(Store(store.redis, contact_key=CONTACT_KEY), CONFIRM, tmp_path, keys) as client:
        yield client


@pytest.mark.parametrize(
    ("first", "then", "discreet"),
    [
        pytest.param("+33698765432", PERSON["contacts"]["phone"], True, id="moved-onto-it"),
        pytest.param(PERSON["contacts"]["phone"], "+33698765432", False, id="moved-off-it"),
    ],
)
def test_a_registered_recipients_current_contacts_decide_not_the_planned_ones(
    keyed_api: TestClient, store: Store, first: str, then: str, discreet: bool
) -> None:
    """Tenant u's registered person changes phone between the plan and the send: whether
    the new one is a discreet person's decides (the message was planned with the old)."""
    body = PERSON | {"safety": DISCREET}
    assert keyed_api.put(f"/v1/recipients/{PERSON['id']}", json=body, headers=KEY).is_success
    neighbour = {"id": "u-7", "locale": "fr"}
    put = f"/v1/recipients/{neighbour['id']}"
    moved = neighbour | {"contacts": {"phone": then}}
    before = neighbour | {"contacts": {"phone": first}}
    assert keyed_api.put(put, json=before, headers=OTHER).is_success
    post(keyed_api, 1, {"id": neighbour["id"]}, OTHER)
    assert keyed_api.put(put, json=moved, headers=OTHER).is_success
    (message,) = delivered(store)
    assert (message.address, message.discreet) == (then, discreet)


def test_a_registration_kept_before_its_keyed_hashes_is_looked_up_apart(
    keyed_api: TestClient, store: Store
) -> None:
    """Tenant u's person was registered before the profile kept the keyed hashes of its
    contacts: the worker asks the set itself, and the message still goes discreet."""
    body = PERSON | {"safety": DISCREET}
    assert keyed_api.put(f"/v1/recipients/{PERSON['id']}", json=body, headers=KEY).is_success
    neighbour = {"id": "u-7", "contacts": PERSON["contacts"]}
    assert keyed_api.put("/v1/recipients/u-7", json=neighbour, headers=OTHER).is_success
    store.redis.hdel(recipient_hash("u", "u-7"), "digests")
    post(keyed_api, 1, {"id": "u-7"}, OTHER)
    (message,) = delivered(store)
    assert message.discreet and message.links == {}


def counting_client(redis_url: str) -> tuple[redis.Redis, list[int]]:
    """A client of the engine's database, and the count of what it sends to the server:
    one per command, one per pipeline."""
    count = [0]

    class Counted(redis.Connection):
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            count[0] += 1
            super().send_packed_command(command, check_health)

    pool = redis.ConnectionPool.from_url(redis_url, connection_class=Counted, decode_responses=True)
    return redis.Redis(connection_pool=pool), count


def test_the_watched_contact_costs_no_round_trip_of_its_own(redis_url: str, store: Store) -> None:
    """The same delivery to a contact a discreet person of another tenant has, discreet
    both times: for a message stored with its contacts' keyed hashes (as the API stores
    them), one round trip fewer than for one stored without (asked apart)."""
    trips = {}
    for keyed in (False, True):
        store.redis.flushdb()
        accepting = Store(store.redis, contact_key=CONTACT_KEY if keyed else None)
        recipients(store).put(TENANT, Recipient.model_validate(PERSON | {"safety": DISCREET}))
        event = make_event(recipient={"id": "u-7", "contacts": PERSON["contacts"]})
        accepting.accept("u:e", plan(event, rules_from(CONFIRM), NOW, client="u"), NOW, ttl=60)
        client, sends = counting_client(redis_url)
        sms = ScriptedTransport(SendResult(Outcome.SENT))
        people = RecipientStore(client, contact_key=CONTACT_KEY)
        worker = deliverer(Store(client), {Channel.SMS: sms}, at=NOW, recipients=people)
        for name in ("claim", "begin_send", "provider_call", "finish"):
            client.script_load(source(name))
        before = sends[0]
        deliver_all(worker, NOW)
        trips[keyed] = sends[0] - before
        (message,) = sms.sent
        assert message.discreet
        client.close()
    assert trips[True] == trips[False] - 1
