"""Event data a planned message needs is checked at ingest, from the templates' syntax trees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from jinja2 import Environment

from notifier.store import Store
from notifier.templates.fields import required_fields
from tests.support.builders import EXAMPLES, NOW, api_client, bearer, make_event, post_event

ENV = Environment()


@pytest.mark.parametrize(
    ("source", "required"),
    [
        pytest.param("{{ data.unit }}", {"data.unit"}, id="plain read"),
        pytest.param("{{ data.unit.code }}", {"data.unit.code"}, id="nested read"),
        pytest.param("{{ data['unit'] }}", {"data.unit"}, id="subscript"),
        pytest.param("{{ data.starts_at | date }}", {"data.starts_at"}, id="under a filter"),
        pytest.param("{{ data.url | default('x') }}", set(), id="default filter"),
        pytest.param("{{ data.url | d('x') }}", set(), id="d filter"),
        pytest.param("{{ data.a | default(data.b) }}", {"data.b"}, id="default's argument"),
        pytest.param("{% if data.p is defined %}{{ data.p }}{% endif %}", set(), id="if defined"),
        pytest.param(
            "{% if data.p is defined %}{{ data.p.q }}{% endif %}", set(), id="guard covers below"
        ),
        pytest.param(
            "{% if data.p is defined %}x{% else %}{{ data.p }}{% endif %}",
            {"data.p"},
            id="else is not guarded",
        ),
        pytest.param(
            "{% if data.p is defined and data.p %}{{ data.p }}{% endif %}", set(), id="and"
        ),
        pytest.param("{% if data.p %}x{% endif %}", {"data.p"}, id="truthiness reads it"),
        pytest.param("{{ data.p if data.p is defined else 'x' }}", set(), id="inline if"),
        pytest.param("{{ 'x' if data.p is defined else data.q }}", {"data.q"}, id="inline else"),
        pytest.param("{{ data.p is undefined }}", set(), id="undefined test"),
        pytest.param("{% for x in data.items %}{{ x }}{% endfor %}", {"data.items"}, id="loop"),
        pytest.param("{{ needs.easy_read }} {{ locale }}", set(), id="not event data"),
        pytest.param("{% set d = data %}{{ d.x }}", set(), id="aliases are not followed"),
    ],
)
def test_required_fields(source: str, required: set[str]) -> None:
    assert required_fields(ENV.parse(source), lambda name: None) == required


def test_pieces_referred_to_are_read_too() -> None:
    partial = ENV.parse("{% macro m(data) %}{{ data.unit }}{% endmacro %}")
    tree = ENV.parse('{% import "_partials/p.j2" as p %}{{ p.m(data) }} {{ data.when }}')
    found = required_fields(tree, {"_partials/p.j2": partial}.get)
    assert found == {"data.unit", "data.when"}


KEY = "a-long-key"
AUTH = bearer(KEY)


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    rules = (EXAMPLES / "rules" / "appointments.yaml").read_text()
    with api_client(store, rules, tmp_path / "rules", {"crm": KEY}) as test_client:
        yield test_client


def test_a_cancellation_without_the_date_its_notice_needs_is_refused(
    client: TestClient, store: Store
) -> None:
    """Today's bug: 202, then 'dict object has no attribute starts_at' at send time."""
    response = post_event(client, KEY, type="appointment.cancelled", data={"unit": "Paris 7e"})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "data", "starts_at"]
    assert "appointment-cancelled" in error["msg"]
    assert store.pending_count() == 0
    assert store.redis.keys("notifier:idem:*") == []  # nothing stored: a corrected retry plans
    assert post_event(client, KEY, type="appointment.cancelled").status_code == 202


def test_every_missing_field_and_rule_is_named(client: TestClient) -> None:
    in_three_days = (NOW.replace(hour=12)).isoformat()
    response = post_event(client, KEY, type="appointment.booked", data={"starts_at": in_three_days})
    assert response.status_code == 422
    named = {(tuple(e["loc"]), e["msg"].split("'")[1]) for e in response.json()["detail"]}
    assert (("body", "data", "unit"), "appointment-confirmation") in named
    assert (("body", "data", "address"), "appointment-confirmation") in named


def test_guarded_fields_are_optional(client: TestClient) -> None:
    """The example templates read data.unit_phone and data.account_url only when present."""
    event = make_event()
    assert "unit_phone" not in event.data and "account_url" not in event.data
    assert post_event(client, KEY).status_code == 202


def test_a_rule_can_require_more(store: Store, tmp_path: Path) -> None:
    rules = """
rules:
  - id: status
    trigger: [procedure.status_changed]
    template: procedure_status
    channels: [email]
    requires: [data.unit.code]
"""
    data = {"reference": "R-1", "status_label": "transmise"}
    with api_client(store, rules, tmp_path, {"crm": KEY}) as client:
        refused = post_event(client, KEY, type="procedure.status_changed", data=data)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "data", "unit", "code"]
        data["unit"] = {"code": "75007"}  # type: ignore[assignment]
        assert (
            post_event(client, KEY, id="e2", type="procedure.status_changed", data=data).status_code
            == 202
        )


def test_batch_answers_the_missing_field_for_its_event(client: TestClient) -> None:
    good = make_event(id="b1").model_dump(mode="json")
    bad = make_event(id="b2", type="appointment.cancelled", data={}).model_dump(mode="json")
    answer = client.post("/v1/events/batch", json={"events": [good, bad]}, headers=AUTH).json()
    assert [r["status"] for r in answer["results"]] == [202, 422]
    assert answer["results"][1]["detail"][0]["loc"] == ["body", "events", 1, "data", "starts_at"]


def test_rules_check_reports_a_field_no_sample_has(tmp_path: Path) -> None:
    from notifier.rules.lint import lint
    from tests.support.builders import rules_from

    rules = rules_from(
        "rules:\n  - id: status\n    trigger: [procedure.status_changed]\n"
        "    template: procedure_status\n    channels: [email]\n"
    )
    sample = make_event(type="procedure.status_changed", data={"reference": "R-1"})
    errors = [
        f for f in lint(rules, EXAMPLES / "templates", NOW, [sample]) if f.severity == "error"
    ]
    assert len(errors) == 1
    assert "template 'procedure_status' reads data.status_label" in errors[0].message
