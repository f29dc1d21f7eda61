"""Ingest's request handling: FastAPI's own, less the general machinery it does not need.

``POST /v1/events`` and ``/v1/events/batch`` are the engine's hottest routes. FastAPI's
general request handler (the content type read through :mod:`email`, ``json.loads`` then
the dict validated, dependencies solved one by one, operation hooks) took about a tenth of an
event's CPU there. A :class:`LeanRoute` is declared like any other route — its signature
documents it and names the key's scope — but serves a well-formed request itself: pydantic
reads the JSON and validates it in one pass, the key is checked (:class:`ApiKey`), the
endpoint runs (awaited if ``async``, a plain ``def`` on the thread pool) and its
:class:`Response` goes out as it is. ``app.dependency_overrides`` do not reach that way
(none is used: tests run the real dependencies).

Anything else (another content type, an empty body, JSON that does not validate) goes to
FastAPI's own handler, so that every error is answered exactly as on any other route, in
the same order (a body that is not JSON is a 400 before the key is looked at).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from notifier.api.deps import ApiKey, engine

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class LeanRoute(APIRoute):
    """A route whose endpoint takes exactly a JSON body model, the client (an
    :class:`ApiKey` dependency) and the engine, and returns a :class:`Response`."""

    def get_route_handler(self) -> Handler:
        general = super().get_route_handler()
        model, body_name, client_name, engine_name, gate = self._shape()
        endpoint = self.endpoint
        asynchronous = inspect.iscoroutinefunction(endpoint)

        async def handle(request: Request) -> Response:
            body = await request.body()
            if not body or not _plain_json(request.headers.get("content-type")):
                return await general(request)
            try:
                value = model.model_validate_json(body)
            except ValidationError:  # FastAPI's own words for what is wrong, and its order
                return await general(request)
            arguments = {
                body_name: value,
                client_name: await gate(request),
                engine_name: await engine(request),
            }
            if asynchronous:
                response = await endpoint(**arguments)
            else:
                response = await run_in_threadpool(endpoint, **arguments)
            if not isinstance(response, Response):
                raise TypeError(f"{self.path}: a LeanRoute's endpoint returns a Response")
            return response

        return handle

    def _shape(self) -> tuple[type[BaseModel], str, str, str, ApiKey]:
        """What the endpoint takes, checked once when the route is made."""
        dependant = self.dependant
        model = self.body_field.field_info.annotation if self.body_field else None
        gates = [d for d in dependant.dependencies if isinstance(d.call, ApiKey)]
        engines = [d for d in dependant.dependencies if d.call is engine]
        others = (
            dependant.path_params,
            dependant.query_params,
            dependant.header_params,
            dependant.cookie_params,
        )
        if (
            not (isinstance(model, type) and issubclass(model, BaseModel))
            or len(dependant.body_params) != 1
            or len(gates) != 1
            or len(engines) != 1
            or len(dependant.dependencies) != 2
            or any(others)
        ):
            raise TypeError(
                f"{self.path}: a LeanRoute's endpoint takes a JSON body model, the client "
                "(ApiKey) and the engine, nothing else"
            )
        gate = gates[0].call
        assert isinstance(gate, ApiKey)
        assert gates[0].name is not None and engines[0].name is not None
        return model, dependant.body_params[0].name, gates[0].name, engines[0].name, gate


def _plain_json(content_type: str | None) -> bool:
    """``application/json``, with or without parameters: the only type served here."""
    return content_type is not None and (
        content_type.partition(";")[0].strip().lower() == "application/json"
    )
