"""Links taken from event data (``data.account_url``) reach an e-mail's ``href`` and a push's
``url`` only when https (http to loopback in development): refused at the door with a 422
naming the field, and at render time whatever the path (a message stored before, a template
that writes another field as a link)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from notifier.channels.base import Outcome, SendResult
from notifier.models import Channel, MessageStatus
from notifier.rules.engine import plan
from notifier.store import Store
from notifier.templates.context import template_flags
from notifier.templates.renderer import Renderer
from notifier.templates.safe_links import UnsafeLinkError
from notifier.urls import link_problem
from tests.support.builders import (
    EXAMPLES,
    NOW,
    ScriptedTransport,
    api_client,
    claim,
    deliverer,
    make_event,
    rules_from,
)

LINKS = [
    pytest.param("javascript:alert(document.cookie)", False, id="javascript"),
    pytest.param("JaVaScRiPt:alert(1)", False, id="javascript-mixed-case"),
    pytest.param(" javascript:alert(1)", False, id="javascript-space-prefixed"),
    pytest.param("\tjavascript:alert(1)", False, id="javascript-tab-prefixed"),
    pytest.param("java\nscript:alert(1)", False, id="javascript-newline-inside"),
    pytest.param("data:text/html;base64,PHNjcmlwdD4=", False, id="data"),
    pytest.param("vbscript:msgbox(1)", False, id="vbscript"),
    pytest.param("http://evil.example/login", False, id="http-elsewhere"),
    pytest.param("//evil.example/login", False, id="scheme-relative"),
    pytest.param("/compte", False, id="relative"),
    pytest.param("https://www.service-public.fr@evil.example/", False, id="user-info"),
    pytest.param("https:\\\\evil.example", False, id="backslashes"),
    pytest.param("file:///etc/passwd", False, id="file"),
    pytest.param("https://www.service-public.fr/compte?x=1#y", True, id="https"),
    pytest.param("HTTPS://WWW.SERVICE-PUBLIC.FR/", True, id="https-upper-case"),
    pytest.param("http://127.0.0.1:8000/compte", True, id="http-loopback-dev"),
    pytest.param("http://localhost:8000/compte", True, id="http-localhost-dev"),
]
CONTEXT = {"locale": "fr", "timezone": "Europe/Paris", "needs": template_flags(())}
DATA = {"reference": "P-1", "status_label": "transmise au parquet"}


@pytest.mark.parametrize(("url", "allowed"), LINKS)
def test_which_links_a_message_may_carry(url: str, allowed: bool) -> None:
    assert (link_problem(url) is None) is allowed


@cache
def shipped() -> Renderer:
    return Renderer(EXAMPLES / "templates")


@pytest.mark.parametrize(("url", "allowed"), LINKS)
def test_the_e_mail_and_the_push_refuse_them_when_rendered(url: str, allowed: bool) -> None:
    """The shipped templates: the e-mail's ``href`` and the push's ``url`` read account_url."""
    renderer = shipped()
    context: dict[str, Any] = CONTEXT | {"data": DATA | {"account_url": url}, "links": {}}
    for channel, part in [(Channel.EMAIL, "html"), (Channel.WEBPUSH, "url")]:
        if allowed:
            rendered = renderer.render("procedure_status", channel, "fr", context)[part]
            assert url.replace("&", "&amp;") in rendered
        else:
            with pytest.raises(UnsafeLinkError, match="link"):
                renderer.render("procedure_status", channel, "fr", context)


def write(folder: Path, relative: str, text: str) -> None:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_any_field_that_opens_a_link_is_checked(tmp_path: Path) -> None:
    """Not only account_url: whatever a template puts first in an href or src, or in a push's
    url, even under default() or a condition; text after a fixed start is not a link's scheme."""
    write(
        tmp_path,
        "t/fr/email.html.j2",
        '<a href="{{ data.site }}">a</a> <img src=\'{{ data.logo | default("https://a.fr/l") }}\'>'
        ' <a href="https://a.fr/{{ data.path }}">b</a> <a HREF = "{{ data.x if data.y else '
        "'https://a.fr' }}\">c</a>",
    )
    write(tmp_path, "t/fr/email.subject.j2", "{{ data.site }}")
    write(tmp_path, "t/fr/email.text.j2", "{{ data.site }}")
    write(tmp_path, "t/fr/webpush.title.j2", "t")
    write(tmp_path, "t/fr/webpush.body.j2", "b")
    write(tmp_path, "t/fr/webpush.url.j2", "{{ data.base }}/d")
    renderer = Renderer(tmp_path)
    assert renderer.current.links["t"] == {"data.site", "data.logo", "data.x", "data.base"}
    good = {"site": "https://a.fr", "path": "javascript:x", "x": "https://b.fr", "y": True}
    context = CONTEXT | {"data": good | {"base": "https://c.fr"}, "links": {}}
    assert (
        'href="https://a.fr/javascript:x"'
        in renderer.render("t", Channel.EMAIL, "fr", context)["html"]
    )
    for field in ["site", "logo", "x"]:
        bad = CONTEXT | {"data": good | {field: "javascript:alert(1)"}, "links": {}}
        with pytest.raises(UnsafeLinkError):
            renderer.render("t", Channel.EMAIL, "fr", bad)
    bad = CONTEXT | {"data": {"base": "javascript:alert(1)//"}, "links": {}}
    with pytest.raises(UnsafeLinkError):
        renderer.render("t", Channel.WEBPUSH, "fr", bad)


def test_a_push_url_written_in_the_template_is_checked_too(tmp_path: Path) -> None:
    for part, text in [("title", "t"), ("body", "b"), ("url", "javascript:alert(1)")]:
        write(tmp_path, f"t/fr/webpush.{part}.j2", text)
    with pytest.raises(UnsafeLinkError):
        Renderer(tmp_path).render("t", Channel.WEBPUSH, "fr", CONTEXT | {"data": {}})


RULES = """
rules:
  - id: news
    trigger: [procedure.status_changed]
    template: procedure_status
    channels: [email]
"""


def news(account_url: str, n: int = 1) -> dict[str, Any]:
    event = make_event(
        id=f"news-{n}",
        type="procedure.status_changed",
        subject="procedure:P-1",
        data=DATA | {"account_url": account_url},
    )
    return event.model_dump(mode="json")


AT_THE_DOOR = [
    p
    for p in LINKS
    if p.id
    in {
        "javascript",
        "javascript-mixed-case",
        "javascript-space-prefixed",
        "data",
        "vbscript",
        "http-elsewhere",
        "https",
        "http-loopback-dev",
    }
]


@pytest.mark.parametrize(("url", "allowed"), AT_THE_DOOR)
def test_the_api_refuses_them_naming_the_field(
    store: Store, tmp_path: Path, url: str, allowed: bool
) -> None:
    with api_client(store, RULES, tmp_path, {"t": "links-key-0123"}) as api:
        keys = {"Authorization": "Bearer links-key-0123"}
        answer = api.post("/v1/events", json=news(url), headers=keys)
        batch = api.post("/v1/events/batch", json={"events": [news(url, 2)]}, headers=keys)
    if allowed:
        assert answer.status_code == 202, answer.text
        assert batch.json()["results"][0]["status"] == 202
        return
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "data", "account_url"] and "https" in error["msg"]
    assert url not in answer.text
    (item,) = batch.json()["results"]
    assert item["status"] == 422
    assert item["detail"][0]["loc"] == ["body", "events", 0, "data", "account_url"]
    assert store.redis.zcard("notifier:due") == 0


def test_a_message_stored_with_such_a_link_is_not_sent(store: Store) -> None:
    """Planned before the check (or by a path that skips the door): the worker renders,
    refuses the link, and sends nothing; the history says why."""
    event = make_event(
        type="procedure.status_changed",
        subject="procedure:P-1",
        data=DATA | {"account_url": "javascript:alert(1)"},
    )
    store.accept("c:news", plan(event, rules_from(RULES), NOW), NOW, ttl=60)
    (claimed,) = claim(store, NOW, limit=1)
    email = ScriptedTransport(SendResult(Outcome.SENT))
    worker = deliverer(store, {Channel.EMAIL: email}, at=NOW)
    assert worker.deliver(claimed.message_id, claimed.claim) is MessageStatus.TECHNICAL_FAILURE
    assert email.sent == []
    record = store.get(claimed.message_id)
    assert record is not None and "link" in (record.history[-1].detail or "")
