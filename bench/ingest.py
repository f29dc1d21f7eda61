"""Benchmark 5: ingest. ``POST /v1/events`` against a minimal endpoint doing one Redis write,
both served as real processes on loopback; then ``POST /v1/events/batch`` in events/s.

The load comes from threads in this process on the same two cores, so absolute rates are
low and shared: compare the ratio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import Result, flush, free_port, progress, rate, spread, wait_until

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key-123456"
CLIENTS = 4
BATCH = 1000


def event(n: int, tag: str) -> dict[str, Any]:
    starts = datetime.now(UTC) + timedelta(days=5)
    return {
        "id": f"{tag}-{n}",
        "type": "appointment.booked",
        "occurred_at": datetime.now(UTC).isoformat(),
        "subject": f"appointment:{tag}-{n}",
        "recipient": {
            "id": f"citizen-{tag}-{n}",
            "locale": "fr",
            "contacts": {"phone": "+33612345678", "email": "camille@example.org"},
        },
        "data": {
            "starts_at": starts.isoformat(),
            "unit": "Brigade de Lyon",
            "address": "1 rue de la République, Lyon",
        },
    }


def serve(command: list[str], port: int, url: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "NOTIFIER_REDIS_URL": f"{url}/0",
        "NOTIFIER_API_PORT": str(port),
        "NOTIFIER_API_KEYS": json.dumps({"bench": KEY}),
        "NOTIFIER_RULES_DIR": str(ROOT / "examples" / "rules"),
        "NOTIFIER_TEMPLATES_DIR": str(ROOT / "examples" / "templates"),
        "NOTIFIER_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(command, env=env, cwd=ROOT)

    def up() -> bool:
        if process.poll() is not None:  # it said why on stderr: no use waiting
            raise RuntimeError(f"{' '.join(command[-2:])} exited with {process.returncode}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(up, 120, "the server to start")  # a loaded machine takes its time
    return process


def hammer(port: int, tag: str, seconds: float, batch: int = 0) -> float:
    """Events per second that ``CLIENTS`` threads get accepted in ``seconds``."""
    accepted = [0] * CLIENTS
    errors: list[BaseException] = []
    stop_at = time.perf_counter() + seconds

    def client(i: int) -> None:
        try:
            send(i)
        except BaseException as exc:  # reported by the caller: a thread cannot raise to it
            errors.append(exc)

    def send(i: int) -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {KEY}"}
        ) as http:
            n = 0
            while n == 0 or time.perf_counter() < stop_at:  # once at least: never a rate of 0
                if batch:
                    events = [event(n + k, f"{tag}{i}") for k in range(batch)]
                    response = http.post("/v1/events/batch", json={"events": events}, timeout=60)
                    assert response.status_code == 200, response.text
                    accepted[i] += response.json()["accepted"]
                    n += batch
                else:
                    response = http.post("/v1/events", json=event(n, f"{tag}{i}"), timeout=60)
                    assert response.status_code == 202, response.text
                    accepted[i] += 1
                    n += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(accepted) / (time.perf_counter() - started)


def run(url: str, rounds: int, seconds: float) -> list[Result]:
    python = sys.executable
    notifier_port, minimal_port = free_port(), free_port()
    servers = [
        serve([python, "-m", "notifier", "api"], notifier_port, url),
        serve([python, "-m", "bench.minimal_api", str(minimal_port)], minimal_port, url),
    ]
    minimal, single, batched = [], [], []
    try:
        for round_ in range(1, rounds + 1):
            flush(url)
            progress(f"ingest round {round_}/{rounds}: minimal endpoint, {CLIENTS} clients")
            minimal.append(hammer(minimal_port, f"m{round_}", seconds))
            progress(f"ingest round {round_}/{rounds}: POST /v1/events")
            single.append(hammer(notifier_port, f"s{round_}", seconds))
            progress(f"ingest round {round_}/{rounds}: POST /v1/events/batch of {BATCH}")
            batched.append(hammer(notifier_port, f"b{round_}", seconds, batch=BATCH))
            progress(
                f"  minimal {minimal[-1]:,.0f}/s, events {single[-1]:,.0f}/s, "
                f"batch {batched[-1]:,.0f} events/s"
            )
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
    ratios = [s / m for s, m in zip(single, minimal, strict=True)]
    return [
        rate("Minimal endpoint, one Redis write (baseline), requests/s", minimal),
        rate("`POST /v1/events`, events/s", single),
        Result("5. `POST /v1/events` ÷ minimal endpoint", spread(ratios), "(measure)", None),
        Result(
            f"5. `POST /v1/events/batch` ({BATCH} per request), events/s",
            spread(batched, "{:,.0f}"),
            "(measure)",
            None,
        ),
    ]
