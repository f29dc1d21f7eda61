"""What the citizen pages show and change, as pure functions: tables with ids."""

from __future__ import annotations

import pytest

from notifier.channels.email import mask_email
from notifier.channels.sms import mask_phone
from notifier.models import Channel, Contacts, Need, OptOut, Recipient
from notifier.web.choices import (
    apply_needs,
    apply_preferences,
    field_name,
    preference_rows,
)
from notifier.web.text import TEXT, language

SMS, EMAIL, PUSH = Channel.SMS, Channel.EMAIL, Channel.WEBPUSH


@pytest.mark.parametrize(
    ("phone", "shown"),
    [
        pytest.param("+33612345678", "06 •• •• •• 78", id="France"),
        pytest.param("+262692123456", "06 •• •• •• 56", id="Réunion"),
        pytest.param("+590690123456", "06 •• •• •• 56", id="Guadeloupe"),
        pytest.param("+32470123456", "+32 •• •• 56", id="Belgium"),
        pytest.param("+687751234", "+687 •• •• 34", id="New Caledonia"),
    ],
)
def test_mask_phone(phone: str, shown: str) -> None:
    assert mask_phone(phone) == shown


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        pytest.param("jeanne.martin@example.org", "j•••@example.org", id="name-at-domain"),
        pytest.param("a@b.fr", "a•••@b.fr", id="one-letter"),
    ],
)
def test_mask_email(address: str, shown: str) -> None:
    assert mask_email(address) == shown


def person(**fields: object) -> Recipient:
    base: dict[str, object] = {
        "id": "p",
        "contacts": Contacts(phone="+33612345678", email="p@example.org"),
    }
    return Recipient.model_validate(base | fields)


NEWS = {"news": "News", "tips": "Tips"}


@pytest.mark.parametrize(
    ("before", "ticked", "offered", "after"),
    [
        pytest.param(
            (), ["news:sms", "news:email", "tips:sms", "tips:email"], [SMS, EMAIL], (), id="all on"
        ),
        pytest.param(
            (),
            ["news:email", "tips:sms", "tips:email"],
            [SMS, EMAIL],
            (OptOut(category="news", channels=frozenset({SMS})),),
            id="one off",
        ),
        pytest.param(
            (),
            [],
            [SMS, EMAIL],
            (
                OptOut(category="news", channels=frozenset({SMS, EMAIL})),
                OptOut(category="tips", channels=frozenset({SMS, EMAIL})),
            ),
            id="all off",
        ),
        pytest.param(
            (OptOut(category="news", channels=frozenset({PUSH})),),
            ["news:sms", "news:email", "tips:sms", "tips:email"],
            [SMS, EMAIL],
            (OptOut(category="news", channels=frozenset({PUSH})),),
            id="an opt-out not shown is kept",
        ),
        pytest.param(
            (OptOut(category="old", channels=frozenset({SMS})),),
            ["news:sms", "news:email", "tips:sms", "tips:email"],
            [SMS, EMAIL],
            (OptOut(category="old", channels=frozenset({SMS})),),
            id="a category not shown is kept",
        ),
        pytest.param(
            (OptOut(category="news", channels=frozenset({SMS})),),
            ["news:sms", "news:email", "tips:sms", "tips:email"],
            [SMS, EMAIL],
            (),
            id="back on",
        ),
        pytest.param(
            (),
            ["news:sms", "news:email", "tips:sms", "tips:email", "news:fax", "x"],
            [SMS, EMAIL],
            (),
            id="unknown boxes ignored",
        ),
    ],
)
def test_apply_preferences(
    before: tuple[OptOut, ...], ticked: list[str], offered: list[Channel], after: tuple[OptOut, ...]
) -> None:
    updated = apply_preferences(person(opt_outs=before), ticked, NEWS, offered)
    assert set(updated.opt_outs) == set(after)


def test_rows_show_state_and_reachability() -> None:
    rows = preference_rows(
        person(opt_outs=(OptOut(category="news", channels=frozenset({SMS})),)),
        NEWS,
        [SMS, EMAIL, PUSH],
    )
    assert [(r.category, [(c.channel, c.on, c.reachable) for c in r.cells]) for r in rows] == [
        ("news", [(SMS, False, True), (EMAIL, True, True), (PUSH, True, False)]),
        ("tips", [(SMS, True, True), (EMAIL, True, True), (PUSH, True, False)]),
    ]
    assert field_name("news", SMS) == "news:sms"


@pytest.mark.parametrize(
    ("ticked", "needs"),
    [
        pytest.param([], frozenset(), id="none"),
        pytest.param(["easy_read"], frozenset({Need.EASY_READ}), id="one"),
        pytest.param(
            ["easy_read", "no_smartphone", "diagnosis"],
            frozenset({Need.EASY_READ, Need.NO_SMARTPHONE}),
            id="unknown ignored",
        ),
    ],
)
def test_apply_needs(ticked: list[str], needs: frozenset[Need]) -> None:
    assert apply_needs(person(needs=frozenset({Need.SCREEN_READER})), ticked).needs == needs


def test_both_languages_say_everything() -> None:
    assert set(TEXT["fr"]) == set(TEXT["en"])


@pytest.mark.parametrize(
    ("asked", "locale", "chosen"),
    [
        pytest.param("en", "fr", "en", id="asked-wins"),
        pytest.param(None, "en-GB", "en", id="region-dropped"),
        pytest.param(None, "de", "fr", id="unknown-locale-french"),
        pytest.param("xx", None, "fr", id="unknown-asked-french"),
        pytest.param(None, None, "fr", id="nothing-french"),
    ],
)
def test_language(asked: str | None, locale: str | None, chosen: str) -> None:
    assert language(asked, locale) == chosen
