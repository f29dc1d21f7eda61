"""The ingest routes' short way (notifier.api.lean): a well-formed event is served without
FastAPI's general request handler, and everything else is answered as that handler answers
it, in its order (this table passes on the code from before the short way)."""

from __future__ import annotations

import json
from typing import Any

import fastapi.routing
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from notifier.api.deps import EngineDep, EventsClient
from notifier.api.lean import LeanRoute
from notifier.models import Event
from notifier.store import Store
from tests.support.builders import AUTH, bearer, make_event


def body(n: int, **changes: Any) -> bytes:
    event = make_event(id=f"evt-{n}", subject=f"appointment:A-{n}").model_dump(mode="json")
    return json.dumps(event | changes).encode()


def batch(n: int, **changes: Any) -> bytes:
    return b'{"events": [' + body(n, **changes) + b"]}"


GOOD, NO_KEY, WRONG_KEY = AUTH, {}, bearer("not-a-key-at-all")

# (path, content type, body, key, status, what the answer says)
CASES = [
    ("/v1/events", "application/json", body(1), GOOD, 202, "evt-1"),
    ("/v1/events", "application/json; charset=utf-8", body(2), GOOD, 202, "evt-2"),
    ("/v1/events", "Application/JSON", body(3), GOOD, 202, "evt-3"),
    ("/v1/events", "application/vnd.upstream+json", body(4), GOOD, 202, "evt-4"),
    ("/v1/events", None, body(5), GOOD, 422, "body"),
    ("/v1/events", "text/plain", body(6), GOOD, 422, "body"),
    ("/v1/events", "application/json", b"", GOOD, 422, "Field required"),
    ("/v1/events", "application/json", b'{"id": ', GOOD, 400, "not valid JSON"),
    ("/v1/events", "application/json", b'{"id": ', NO_KEY, 400, "not valid JSON"),
    ("/v1/events", "application/json", b"\xff\xfe{}", GOOD, 400, "not valid JSON"),
    ("/v1/events", "application/json", b"[1, 2]", GOOD, 422, "body"),
    ("/v1/events", "application/json", body(7), NO_KEY, 401, "API key"),
    ("/v1/events", "application/json", body(8), WRONG_KEY, 401, "API key"),
    ("/v1/events", "application/json", body(9, type="Not A Type"), NO_KEY, 401, "API key"),
    ("/v1/events", "application/json", body(10, type="Not A Type"), GOOD, 422, "type"),
    ("/v1/events", "application/json", body(11, extra=1), GOOD, 422, "extra"),
    ("/v1/events", "application/json", body(12, data=float("nan")), GOOD, 422, "data"),
    ("/v1/events/batch", "application/json", batch(20), GOOD, 200, "evt-20"),
    ("/v1/events/batch", "text/plain", batch(21), GOOD, 422, "body"),
    ("/v1/events/batch", "application/json", b'{"events": []}', GOOD, 422, "events"),
    ("/v1/events/batch", "application/json", batch(22), NO_KEY, 401, "API key"),
    ("/v1/events/batch", "application/json", b"{", NO_KEY, 400, "not valid JSON"),
]
IDS = [
    "json",
    "json-charset",
    "json-capitals",
    "json-suffix",
    "no-type",
    "text-plain",
    "empty",
    "not-json",
    "not-json-before-key",
    "not-utf8",
    "array",
    "no-key",
    "wrong-key",
    "key-before-fields",
    "bad-field",
    "unknown-field",
    "nan-data",
    "batch-json",
    "batch-text-plain",
    "batch-empty-list",
    "batch-no-key",
    "batch-not-json-before-key",
]


@pytest.mark.parametrize(("path", "kind", "sent", "key", "status", "says"), CASES, ids=IDS)
def test_answers_as_fastapi_would(
    client: TestClient,
    path: str,
    kind: str | None,
    sent: bytes,
    key: dict[str, str],
    status: int,
    says: str,
) -> None:
    headers = key | ({"Content-Type": kind} if kind else {})
    response = client.post(path, content=sent, headers=headers)
    assert response.status_code == status, response.text
    assert says in response.text
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("kind", "sent", "general"),
    [
        ("application/json", body(30), False),
        ("application/json; charset=utf-8", body(31), False),
        ("application/vnd.upstream+json", body(32), True),
        ("application/json", body(33, type="Not A Type"), True),
    ],
    ids=["json", "json-charset", "json-suffix", "invalid"],
)
def test_only_a_well_formed_event_goes_the_short_way(
    client: TestClient,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    sent: bytes,
    general: bool,
) -> None:
    """FastAPI's general handler solves a route's dependencies: the short way never does."""
    solved: list[object] = []
    original = fastapi.routing.solve_dependencies

    async def counted(*args: Any, **kwargs: Any) -> Any:
        solved.append(kwargs.get("dependant"))
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    client.post("/v1/events", content=sent, headers=AUTH | {"Content-Type": kind})
    assert bool(solved) is general


def test_a_lean_route_takes_only_what_it_serves() -> None:
    """An endpoint it could not call as declared is refused when the route is made, not
    when the first request comes."""
    router = APIRouter(route_class=LeanRoute)

    def with_query(event: Event, client: EventsClient, parts: EngineDep, page: int = 1) -> None:
        raise AssertionError

    with pytest.raises(TypeError, match="nothing else"):
        router.post("/v1/events")(with_query)

    def without_key(event: Event, parts: EngineDep) -> None:
        raise AssertionError

    with pytest.raises(TypeError, match="nothing else"):
        router.post("/y")(without_key)
