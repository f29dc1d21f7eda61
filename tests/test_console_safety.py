"""The console's safety actions at a person's request, in a real browser and over HTTP: set
their settings and a new code for their pages (reason required, CSRF-checked, audited),
for a person known only from events too; the words they were actually sent; no resend on
a channel they said is unsafe. Chromium, axe-core, uvicorn on loopback over the test's
Valkey, as tests/test_console.py. ``UPDATE_SCREENSHOTS=1`` writes the screen to docs/."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Page

from notifier.channels.base import Outcome, SendResult
from notifier.models import Channel, MessageStatus, Safety
from notifier.store import PREFIX
from notifier.store.recipients import RecipientStore
from notifier.store.safety_decisions import decision_in
from tests.support.browser import overflows, violations
from tests.support.builders import (
    CONTACT_KEY,
    DISCREET,
    NOW,
    TENANT,
    Console,
    ScriptedTransport,
    deliver_all,
    deliver_due,
    deliverer,
    make_event,
    screenshots,
    wrong_codes,
)


def people(console: Console) -> RecipientStore:
    return RecipientStore(console.store.redis, contact_key=CONTACT_KEY)


def session(console: Console) -> tuple[dict[str, str], str]:
    """An agent's session over HTTP: its cookie, and the CSRF token its forms carry."""
    login = httpx.post(f"{console.url}/ops/login", data={"key": console.agent_key})
    cookies = {"notifier_ops": login.cookies["notifier_ops"]}
    overview = httpx.get(f"{console.url}/ops/", cookies=cookies).text
    found = re.search(r'name="token" value="([0-9a-f]+)"', overview)
    assert found is not None
    return cookies, found.group(1)


def seen_on(console: Console, booked: str, cookies: dict[str, str]) -> str:
    """The version of the person's settings their screen shows (its form carries it)."""
    screen = httpx.get(f"{console.url}/ops/messages/{booked}/person", cookies=cookies).text
    found = re.search(r'name="seen" value="([0-9a-f]+)"', screen)
    assert found is not None
    return found.group(1)


def audited(console: Console) -> list[dict[str, object]]:
    return [json.loads(e) for e in console.store.redis.lrange(f"{PREFIX}audit", 0, -1)]


def test_an_agent_pauses_and_resumes_a_person_known_only_from_events(
    console: Console, page: Page
) -> None:
    (booked, *_) = console.post(id="booked-u")  # citizen-1, never registered through the API
    console.login(page)
    page.wait_for_url("**/ops/")
    page.goto(f"{console.url}/ops/messages/{booked}")
    page.get_by_role("link", name="Contact protégé de cette personne").click()
    assert "connue seulement par ses messages" in page.inner_text("main")
    assert violations(page) == []
    page.get_by_label("Tous les messages en pause").check(force=True)
    page.get_by_role("button", name="Enregistrer ses réglages").click()
    assert "Indiquez un motif" not in page.inner_text("main")  # the browser asks first
    page.get_by_label("Motif", exact=True).first.fill("appel de la personne, ticket 118")
    page.get_by_role("button", name="Enregistrer ses réglages").click()
    page.get_by_text("Action enregistrée : réglages de la personne").wait_for()
    decided = decision_in(people(console).fields(TENANT, "citizen-1"))
    assert decided is not None and decided.safety.paused and decided.by == "agent"
    assert deliver_due(console.store, NOW) == []  # the confirmation is withheld
    assert console.store.get(booked).status is MessageStatus.WITHHELD  # type: ignore[union-attr]
    # resuming, with what was missed
    page.get_by_label("Tous les messages en pause").uncheck(force=True)
    page.get_by_label("En reprenant, envoyer les messages de la pause").check(force=True)
    page.get_by_label("Motif", exact=True).first.fill("la personne reprend le contact")
    page.get_by_role("button", name="Enregistrer ses réglages").click()
    page.get_by_text("Action enregistrée : réglages de la personne").wait_for()
    assert deliver_due(console.store, NOW) == ["+33612345678"]
    entries = audited(console)
    assert [(e["agent"], e["action"], e["target"]) for e in entries] == [
        ("agent-1", "safety settings: pause off, 1 withheld sent again", booked),
        ("agent-1", "safety settings: pause on", booked),
    ]
    assert entries[1]["reason"] == "appel de la personne, ticket 118"


def test_the_person_screen_is_accessible_small_and_usable_with_the_keyboard(
    console: Console, page: Page
) -> None:
    (booked, *_) = console.post(id="booked-k", recipient=DISCREET)
    console.login(page)
    page.wait_for_url("**/ops/")
    page.goto(f"{console.url}/ops/messages/{booked}/person")
    assert violations(page) == []
    screenshots(page, "ops-person", (1280,))
    page.set_viewport_size({"width": 320, "height": 800})
    assert overflows(page) == 0 and violations(page) == []
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "code":
            break
    else:
        pytest.fail("the code field cannot be reached with Tab")
    page.keyboard.type("864213")
    page.keyboard.press("Tab")
    page.keyboard.type("la personne a oublié son code")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Action enregistrée : nouveau code" in page.inner_text("main")


def test_a_new_code_needs_a_reason_and_six_digits_and_lifts_a_shut_code(
    console: Console,
) -> None:
    (booked, *_) = console.post(id="booked-c", recipient=DISCREET)
    store = people(console)
    store.set_code(TENANT, "citizen-d", "135790")
    for _ in range(3):  # three locks: shut until a new code
        wrong_codes(console, "citizen-d", 5)
        console.store.redis.delete(f"{PREFIX}code-tries:{TENANT}|citizen-d")
    assert store.check_code(TENANT, "citizen-d", "135790")[0] == "shut"
    cookies, token = session(console)
    url = f"{console.url}/ops/messages/{booked}/person/code"
    forged = httpx.post(
        url, data={"token": "forged", "reason": "r", "code": "864213"}, cookies=cookies
    )
    assert forged.status_code == 403
    for form, done in [
        ({"reason": " ", "code": "864213"}, "reason"),
        ({"reason": "demande", "code": "1234"}, "format"),
    ]:
        refused = httpx.post(url, data=form | {"token": token}, cookies=cookies)
        assert refused.headers["location"].endswith(f"done={done}"), form
    assert store.check_code(TENANT, "citizen-d", "864213")[0] == "shut" and audited(console) == []
    done = httpx.post(
        url, data={"token": token, "reason": "demande", "code": "864213"}, cookies=cookies
    )
    assert done.headers["location"].endswith("done=code")
    assert store.check_code(TENANT, "citizen-d", "864213") == ("ok", 5)
    (entry,) = audited(console)
    assert (entry["action"], entry["target"], entry["reason"]) == (
        "new pages code",
        booked,
        "demande",
    )


def test_unchanged_settings_are_not_audited_and_bad_hours_are_refused(console: Console) -> None:
    (booked, *_) = console.post(id="booked-n")
    cookies, token = session(console)
    url = f"{console.url}/ops/messages/{booked}/person/safety"
    seen = seen_on(console, booked, cookies)
    same = httpx.post(url, data={"token": token, "reason": "r", "seen": seen}, cookies=cookies)
    assert same.headers["location"].endswith("done=nothing")
    bad = {"token": token, "reason": "r", "start": "25:00", "end": "17:00", "seen": seen}
    assert httpx.post(url, data=bad, cookies=cookies).headers["location"].endswith("done=hours")
    assert audited(console) == [] and "choices" not in people(console).fields(TENANT, "citizen-1")
    missing = httpx.get(f"{console.url}/ops/messages/AAAAAAAAAAAAAAAA/person", cookies=cookies)
    assert missing.status_code == 404


def test_the_message_shows_the_discreet_words_the_person_was_sent(
    console: Console, page: Page
) -> None:
    (sent, *_) = console.post(id="booked-d", recipient=DISCREET)
    assert deliver_due(console.store, NOW) == ["+33612345678"]
    console.login(page)
    page.wait_for_url("**/ops/")
    page.goto(f"{console.url}/ops/messages/{sent}")
    text = page.inner_text("main")
    assert "Texte envoyé" in text and "tel que la personne l'a reçu" in text
    words = text.split("Texte envoyé", 1)[1].split("Chronologie", 1)[0]
    assert "Rendez-vous noté" in words or "rendez-vous est noté" in words  # the discreet words
    for standard in ("Gendarmerie", "Brigade", "BRG-75"):
        assert standard not in words


@pytest.mark.parametrize(
    ("person", "since", "discreet_words"),
    [
        pytest.param("citizen-1", Safety(discreet=True), False, id="standard-then-discreet-on"),
        pytest.param("citizen-d", Safety(), True, id="discreet-then-discreet-off"),
    ],
)
def test_the_words_shown_are_those_sent_whatever_the_person_chose_since(
    console: Console, person: str, since: Safety, discreet_words: bool
) -> None:
    """The person turned discreet messages on (or off) after the message went: the console
    shows the wording that was used, not the one a send would use now."""
    recipient = DISCREET if person == "citizen-d" else None
    (sent, *_) = console.post(
        id=f"booked-{person}", **({"recipient": recipient} if recipient else {})
    )
    assert deliver_due(console.store, NOW) == ["+33612345678"]
    people(console).set_safety(TENANT, person, since, by="agent")
    cookies, _ = session(console)
    text = httpx.get(f"{console.url}/ops/messages/{sent}", cookies=cookies).text
    words = text.split("Texte envoyé", 1)[1].split("Chronologie", 1)[0]
    standard = ("Gendarmerie" in words, "Brigade de Paris 7e" in words)
    assert standard == (not discreet_words, not discreet_words), words
    assert ("texte discret, tel que la personne" in words) is discreet_words


def test_no_resend_is_offered_when_no_channel_of_the_message_is_safe(
    console: Console, page: Page
) -> None:
    console.post(id="booked-s")  # its confirmation: SMS, then e-mail
    refused = SendResult(Outcome.PERMANENT, reason="not a mobile")
    worker = deliverer(
        console.store, {c: ScriptedTransport(*[refused] * 10) for c in Channel}, at=NOW
    )
    deliver_all(worker, NOW, limit=10)
    failed = next(
        r.id for r in console.store.failures_since(NOW - timedelta(hours=1))
    )  # the confirmation, refused on both channels
    people(console).set_safety(TENANT, "citizen-1", Safety(channels=frozenset({Channel.WEBPUSH})))
    console.login(page)
    page.wait_for_url("**/ops/")
    page.goto(f"{console.url}/ops/messages/{failed}")
    assert page.get_by_role("button", name="Envoyer à nouveau").count() == 0
    cookies, token = session(console)
    forced = httpx.post(
        f"{console.url}/ops/messages/{failed}/resend",
        data={"reason": "demande", "token": token},
        cookies=cookies,
    )
    assert forced.headers["location"].endswith("?done=unsafe")
    assert console.store.get(failed).status is MessageStatus.PERMANENT_FAILURE  # type: ignore[union-attr]


def test_a_screen_shown_before_an_events_tightening_does_not_undo_it(console: Console) -> None:
    """The agent opens the person's screen; meanwhile an event pauses all contact; the form,
    saved as it was shown (no pause), saves nothing and says to review; from the screen as
    it is now, it saves."""
    (booked, *_) = console.post(id="booked-s")
    cookies, token = session(console)
    seen = seen_on(console, booked, cookies)
    person = make_event().recipient.model_dump(mode="json") | {"safety": {"paused": True}}
    console.post(id="booked-s2", subject="appointment:BRG-75-00099", recipient=person)
    url = f"{console.url}/ops/messages/{booked}/person/safety"
    form = {"token": token, "reason": "appel de la personne", "discreet": "1"}
    stale = httpx.post(url, data=form | {"seen": seen}, cookies=cookies)
    assert stale.headers["location"].endswith("done=stale")
    decided = decision_in(people(console).fields(TENANT, "citizen-1"))
    assert decided is not None and decided.safety == Safety(paused=True)
    assert audited(console) == []
    screen = httpx.get(f"{console.url}{stale.headers['location']}", cookies=cookies).text
    assert "ses réglages ont changé depuis" in screen
    fresh = form | {"seen": seen_on(console, booked, cookies), "paused": "1"}
    saved = httpx.post(url, data=fresh, cookies=cookies)
    assert saved.headers["location"].endswith("done=safety")
    decided = decision_in(people(console).fields(TENANT, "citizen-1"))
    assert decided is not None and decided.safety == Safety(discreet=True, paused=True)


def test_the_screen_does_not_promise_a_discreet_person_without_a_code_they_will_choose_one(
    console: Console,
) -> None:
    """Nobody chooses the code at the gate (whoever opens the link first may hold the
    watched phone): the agent must set it with the person, so the screen says so."""
    (booked, *_) = console.post(id="booked-d", recipient=DISCREET, subject="appointment:BRG-75-43")
    cookies, _ = session(console)
    answer = httpx.get(f"{console.url}/ops/messages/{booked}/person", cookies=cookies)
    screen = html.unescape(answer.text)
    assert "prochaine visite" not in screen
    assert "restent fermées tant qu'un code n'est pas choisi avec elle" in screen
