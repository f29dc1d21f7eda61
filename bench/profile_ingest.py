"""Where an event's time goes at ingest: ``python -m bench.profile_ingest [batch|single] [N]``.

Posts the ingest benchmark's events to the real API in this process (through its ASGI
interface: the same app, middleware, validation, planning, acceptance script and answer,
without the sockets) under pyinstrument, one request at a time. The synchronous routes run
on the event loop's thread instead of the thread pool, so that the profile sees them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
from pyinstrument import Profiler

from bench.common import private_server
from bench.ingest import BATCH, KEY, ROOT, event


async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


async def post_all(app: Any, path: str, bodies: list[Any], expected: int) -> None:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers=headers
    ) as http:
        for body in bodies:
            response = await http.post(path, json=body)
            assert response.status_code == expected, response.text[:500]


def main(mode: str = "batch", count: int = 3000) -> None:
    with private_server() as url:
        os.environ |= {
            "NOTIFIER_REDIS_URL": f"{url}/0",
            "NOTIFIER_API_KEYS": json.dumps({"bench": KEY}),
            "NOTIFIER_RULES_DIR": str(ROOT / "examples" / "rules"),
            "NOTIFIER_TEMPLATES_DIR": str(ROOT / "examples" / "templates"),
            "NOTIFIER_LOG_LEVEL": "WARNING",
        }
        import fastapi.dependencies.utils
        import fastapi.routing

        from notifier.app import create_app
        from notifier.rules.loader import rules_holder
        from notifier.runtime.logs import configure_logging
        from notifier.runtime.settings import get_settings
        from notifier.store import Store

        fastapi.routing.run_in_threadpool = inline
        fastapi.dependencies.utils.run_in_threadpool = inline
        settings = get_settings()
        configure_logging(settings.log_level, "api")
        store = Store.from_url(f"{url}/0", contact_key=settings.secret())
        app = create_app(settings, store, rules_holder(settings.rules_dir))
        if mode == "batch":
            bodies: list[Any] = [
                {"events": [event(n + k, "p") for k in range(BATCH)]}
                for n in range(0, count, BATCH)
            ]
            path, expected = "/v1/events/batch", 200
        else:
            bodies, path, expected = [event(n, "p") for n in range(count)], "/v1/events", 202
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
        started = time.perf_counter()
        asyncio.run(post_all(app, path, bodies, expected))
        elapsed = time.perf_counter() - started
        profiler.stop()
        print(f"{count / elapsed:,.0f} events/s through {path}, one request at a time")
        print(profiler.output_text(unicode=True, color=sys.stdout.isatty()))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(arguments[0] if arguments else "batch", int(arguments[1]) if arguments[1:] else 3000)
