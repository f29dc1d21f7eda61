"""The console answers within the agent's tenant: a key made with ``--tenant`` finds, opens
and acts on that tenant's messages only, and reads only its audit entries; a key made
without (a national agent) sees every tenant's. Over HTTP, against the app on loopback
(tests/test_console.py's set-up), with two tenants writing to the same phone, e-mail and
subject: ``crm`` (:data:`TENANT`) and ``unit-75``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import httpx
import pytest

from notifier.channels.base import Outcome, SendResult
from notifier.models import Channel, MessageStatus
from notifier.store import PREFIX
from notifier.store.apikeys import ApiKeys, Scope
from tests.support.builders import (
    NOW,
    TENANT,
    Console,
    ScriptedTransport,
    bearer,
    deliver_all,
    deliverer,
    make_event,
)

UNIT = "unit-75"
UNKNOWN = "AAAAAAAAAAAAAAAA"


@dataclass(frozen=True)
class Agent:
    cookies: dict[str, str]
    token: str  # the CSRF token of the session's forms


@dataclass(frozen=True)
class Desk:
    console: Console
    crm: list[str]  # the messages crm planned for its citizen-1
    unit: list[str]  # those unit-75 planned for its citizen-75, same phone, e-mail, subject
    unit_agent: Agent  # a key made with --tenant unit-75
    national: Agent  # the console fixture's agent-1, made without --tenant

    def get(self, agent: Agent, path: str, **params: str) -> httpx.Response:
        return httpx.get(f"{self.console.url}{path}", params=params, cookies=agent.cookies)

    def post(self, agent: Agent, path: str, **form: str) -> httpx.Response:
        data = {"token": agent.token, **form}
        return httpx.post(f"{self.console.url}{path}", data=data, cookies=agent.cookies)


def logged_in(console: Console, key: str) -> Agent:
    login = httpx.post(f"{console.url}/ops/login", data={"key": key})
    cookies = {"notifier_ops": login.cookies["notifier_ops"]}
    overview = httpx.get(f"{console.url}/ops/", cookies=cookies).text
    found = re.search(r'name="token" value="([0-9a-f]+)"', overview)
    assert found is not None
    return Agent(cookies, found.group(1))


@pytest.fixture
def desk(console: Console) -> Desk:
    keys = ApiKeys(console.store.redis, {})
    booking = keys.add("booking-75", [], scopes={Scope.EVENTS}, tenant=UNIT)
    unit_ops = keys.add("unitops", [], scopes={Scope.OPS}, tenant=UNIT)
    crm = console.post(id="evt-crm")
    recipient = make_event().recipient.model_dump(mode="json") | {"id": "citizen-75"}
    body = make_event(id="evt-75", recipient=recipient).model_dump(mode="json")
    answer = httpx.post(f"{console.url}/v1/events", json=body, headers=bearer(booking))
    assert answer.status_code == 202, answer.text
    unit = [p["id"] for p in answer.json()["planned"]]
    return Desk(
        console, crm, unit, logged_in(console, unit_ops), logged_in(console, console.agent_key)
    )


def results(found: httpx.Response) -> str:
    """The Find screen after its form (which repeats the query): the count, then each message."""
    assert found.status_code == 200
    return found.text.split('<h2 class="fr-h4 fr-mt-4w">', 1)[1]


SEARCHES = [
    "{crm}",  # a message id
    "evt-crm",  # an event id
    "citizen-1",  # a recipient id
    "+33612345678",  # a phone number, which unit-75's person has too
    "06 12 34 56 78",
    "jeanne.martin@example.org",  # an e-mail, likewise
    "appointment:BRG-75-00042",  # a subject, likewise
]


@pytest.mark.parametrize(
    "query", SEARCHES, ids=["id", "event", "recipient", "phone", "phone-fr", "email", "subject"]
)
def test_a_tenant_agent_finds_nothing_of_another_tenant(desk: Desk, query: str) -> None:
    query = query.format(crm=desk.crm[0])
    found = results(desk.get(desk.unit_agent, "/ops/find", q=query))
    assert not [i for i in desk.crm if i in found], found
    if query in SEARCHES[3:]:  # a contact or subject unit-75's person shares: its own found
        assert found.startswith(f"{len(desk.unit)} message(s)") and desk.unit[0] in found
    else:
        assert found.startswith("0 message(s)")
    national = results(desk.get(desk.national, "/ops/find", q=query))
    assert desk.crm[0] in national  # a national agent finds every tenant's


def test_a_tenant_agent_finds_and_opens_its_own_tenants_messages(desk: Desk) -> None:
    found = desk.get(desk.unit_agent, "/ops/find", q="evt-75")
    assert f"{len(desk.unit)} message(s)" in found.text
    for path in (f"/ops/messages/{desk.unit[0]}", f"/ops/messages/{desk.unit[0]}/person"):
        assert desk.get(desk.unit_agent, path).status_code == 200, path


@pytest.mark.parametrize(
    "path", ["/ops/messages/{id}", "/ops/messages/{id}/person"], ids=["message", "person"]
)
def test_another_tenants_screens_answer_as_an_unknown_id(desk: Desk, path: str) -> None:
    unknown = desk.get(desk.unit_agent, path.format(id=UNKNOWN))
    foreign = desk.get(desk.unit_agent, path.format(id=desk.crm[0]))
    assert unknown.status_code == foreign.status_code == 404
    assert foreign.text.replace(desk.crm[0], UNKNOWN) == unknown.text  # its links name the path
    assert desk.get(desk.national, path.format(id=desk.crm[0])).status_code == 200


ACTIONS = [
    ("/cancel", {}),
    ("/resend", {}),
    ("/person/safety", {"paused": "on", "seen": ""}),
    ("/person/code", {"code": "864213"}),
]


@pytest.mark.parametrize(("action", "form"), ACTIONS, ids=["cancel", "resend", "safety", "code"])
def test_another_tenants_message_takes_no_action(
    desk: Desk, action: str, form: dict[str, str]
) -> None:
    (target, *_) = desk.crm
    before = desk.console.store.redis.hgetall(f"{PREFIX}msg:{target}")
    person = desk.console.recipients.fields(TENANT, "citizen-1")
    answer = desk.post(desk.unit_agent, f"/ops/messages/{target}{action}", reason="r", **form)
    assert answer.status_code == 404
    unknown = desk.post(desk.unit_agent, f"/ops/messages/{UNKNOWN}{action}", reason="r", **form)
    assert answer.text.replace(target, UNKNOWN) == unknown.text
    assert desk.console.store.redis.hgetall(f"{PREFIX}msg:{target}") == before
    assert desk.console.recipients.fields(TENANT, "citizen-1") == person
    assert not desk.console.recipients.has_code(TENANT, "citizen-1")
    assert desk.console.store.redis.lrange(f"{PREFIX}audit", 0, -1) == []


def test_a_tenant_agent_reads_only_its_tenants_audit_entries(desk: Desk) -> None:
    older = {
        "agent": "agent-0",
        "via": "ops",
        "action": "cancel",
        "target": "x",
        "reason": "motif-ancien",
    }
    desk.console.store.redis.lpush(f"{PREFIX}audit", json.dumps(older))  # before tenants
    for agent, message, reason in [
        (desk.national, desk.crm[0], "appel au sujet de citizen-1"),
        (desk.unit_agent, desk.unit[0], "appel au sujet de citizen-75"),
    ]:
        done = desk.post(agent, f"/ops/messages/{message}/cancel", reason=reason)
        assert done.status_code == 303 and done.headers["location"].endswith("done=cancel")
    stored = desk.console.store.redis.lrange(f"{PREFIX}audit", 0, -1)
    assert [json.loads(e).get("tenant") for e in stored] == [UNIT, TENANT, None]
    unit = desk.get(desk.unit_agent, "/ops/").text
    assert "citizen-75" in unit and "citizen-1" not in unit and "agent-0" not in unit
    national = desk.get(desk.national, "/ops/").text
    assert all(r in national for r in ("citizen-75", "citizen-1", "agent-0"))
    record = desk.console.store.get(desk.unit[0])
    assert record is not None and record.status is MessageStatus.CANCELLED


def test_a_tenant_agent_reads_only_its_tenants_failures(desk: Desk) -> None:
    """A failure's detail is the provider's words, which may name the person: the overview
    groups only the agent's tenant's failures (its counts of pending messages stay global)."""
    for message in desk.unit:  # only crm's confirmation is left to fail
        assert desk.post(desk.unit_agent, f"/ops/messages/{message}/cancel", reason="r").is_redirect
    rejected = SendResult(Outcome.PERMANENT, reason="550 jeanne.martin@example.org: unknown")
    transports = {c: ScriptedTransport(*[rejected] * 10) for c in Channel}
    deliver_all(deliverer(desk.console.store, transports, at=NOW), NOW)
    assert "no channel could deliver : 1" in desk.get(desk.national, "/ops/").text
    assert "no channel could deliver" not in desk.get(desk.unit_agent, "/ops/").text
