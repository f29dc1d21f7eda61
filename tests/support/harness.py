"""Real engine processes for end-to-end tests: the same commands an operator runs.

Each process writes its log to a file in the test's folder; on failure, ``EngineProcesses``
prints those logs so the reason is in the test report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis

from notifier.runtime.redis_server import free_port
from tests.support.builders import EXAMPLES, ROOT

API_KEY = "e2e-key-123456"


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_notifier_run(
    folder: Path, env: dict[str, str], timeout: float
) -> subprocess.Popen[bytes]:
    """``notifier run`` (what ``make run`` starts) in ``folder`` with ``env``, its output
    appended to ``folder/run.log``; returned once its API (``NOTIFIER_API_PORT``) answers
    /healthz. If it does not in ``timeout`` seconds: the log's end printed, the process
    stopped, and the wait's error raised."""
    log = folder / "run.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "notifier", "run"],
            env=env,
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    health = f"http://127.0.0.1:{env['NOTIFIER_API_PORT']}/healthz"

    def healthy() -> bool:
        try:
            return httpx.get(health).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, timeout, "notifier run to serve /healthz")
    except AssertionError:
        print(log.read_text(errors="replace")[-6000:])
        process.send_signal(signal.SIGINT)
        process.wait(45)
        raise
    return process


class EngineProcesses:
    """API, schedulers and workers as subprocesses sharing one Redis server and outbox."""

    def __init__(
        self, workdir: Path, redis_base_url: str, *, rules: str, engine_db: int = 0
    ) -> None:
        self.workdir = workdir
        self.rules_dir = workdir / "rules"
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        (self.rules_dir / "rules.yaml").write_text(rules)
        self.outbox = workdir / "outbox"
        self.api_port = free_port()
        self.redis_base_url = redis_base_url
        self.redis_url = f"{redis_base_url}/{engine_db}"
        self.env = {
            **os.environ,
            "NOTIFIER_REDIS_URL": self.redis_url,
            "NOTIFIER_BROKER_REDIS_DB": str(engine_db + 1),
            "NOTIFIER_API_PORT": str(self.api_port),
            "NOTIFIER_API_KEYS": json.dumps({"e2e": API_KEY}),
            "NOTIFIER_RULES_DIR": str(self.rules_dir),
            "NOTIFIER_TEMPLATES_DIR": str(EXAMPLES / "templates"),
            "NOTIFIER_OUTBOX_DIR": str(self.outbox),
            "NOTIFIER_DATA_DIR": str(workdir / "var"),
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.metrics_ports: dict[str, int] = {}
        for db in (engine_db, engine_db + 1):
            client = redis.Redis.from_url(f"{redis_base_url}/{db}")
            client.flushdb()
            client.close()
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=10,
        )

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        self.metrics_ports[name] = free_port()  # every process its own /metrics
        env = {
            **self.env,
            "NOTIFIER_SCHEDULER_METRICS_PORT": str(self.metrics_ports[name]),
            "NOTIFIER_WORKER_METRICS_PORT": str(self.metrics_ports[name]),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "notifier", *args],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes[name] = process
        return process

    def start_api(self) -> None:
        self.start("api", "api")
        wait_for(self._api_ready, 20, "the API to answer /healthz")

    def _api_ready(self) -> bool:
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def start_scheduler(self, name: str = "scheduler") -> None:
        """Start a scheduler and wait until it has ticked once (its /metrics says when)."""
        self.start(name, "scheduler")
        url = f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"

        def ticked() -> bool:
            try:
                text = httpx.get(url).text
            except httpx.TransportError:
                return False
            tick = "notifier_scheduler_last_tick_timestamp_seconds "
            return any(
                line.startswith(tick) and float(line.split()[-1]) > 0 for line in text.splitlines()
            )

        wait_for(ticked, 30, f"{name} to tick")

    def start_worker(self, name: str = "worker", threads: int = 4) -> None:
        """Start Dramatiq workers and wait until they have registered with the broker."""
        broker = redis.Redis.from_url(
            f"{self.redis_base_url}/{self.env['NOTIFIER_BROKER_REDIS_DB']}"
        )
        # a new member, not a higher count: a dead worker's heartbeat may leave meanwhile
        before = set(broker.zrange("dramatiq:__heartbeats__", 0, -1))
        self.start(name, "worker", "--processes", "1", "--threads", str(threads))
        wait_for(
            lambda: set(broker.zrange("dramatiq:__heartbeats__", 0, -1)) - before,
            30,
            "the worker to register with the broker",
        )
        broker.close()

    def stop(self, *names: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Signal the named processes all at once, then wait for each (SIGKILL after ``timeout``).

        At once: a Dramatiq worker takes a second or two to wind down, and stopping one
        process after another made every test with several of them wait for the sum.
        """
        stopping = [self.processes.pop(name) for name in names]
        for process in stopping:
            if process.poll() is None:
                os.killpg(process.pid, sig)
        deadline = time.monotonic() + timeout
        for process in stopping:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        self.stop(*self.processes)
        self.http.close()

    def logs(self, tail: int | None = 4000) -> str:
        """Every process's log (the last ``tail`` characters of each, or all of it)."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-(tail or 0) :]}"
            for path in sorted(self.workdir.glob("*.log"))
        )

    def explain(self, message_ids: set[str]) -> str:
        """Status and recent history of messages, and the broker's queues: for failure reports."""
        lines = []
        for message_id in sorted(message_ids):
            record = self.http.get(f"/v1/messages/{message_id}").json()
            steps = [
                f"{h['at'][11:23]} {h['status']} {h.get('detail') or ''}".rstrip()
                for h in record.get("history", [])[-4:]
            ]
            lines.append(f"{message_id} {record.get('status')}: " + " | ".join(steps))
        broker = redis.Redis.from_url(
            f"{self.redis_base_url}/{self.env['NOTIFIER_BROKER_REDIS_DB']}", decode_responses=True
        )
        for key in sorted(broker.keys("dramatiq:*")):
            kind = broker.type(key)
            size = {"list": broker.llen, "zset": broker.zcard, "set": broker.scard}.get(kind)
            lines.append(f"{key} ({kind}): {size(key) if size else ''}")
        broker.close()
        return "\n".join(lines)

    def statuses(self, message_ids: set[str]) -> dict[str, int]:
        """How many of these messages are in each status, read straight from Redis."""
        from collections import Counter

        from notifier.store import Store

        store = Store.from_url(self.redis_url)
        try:
            found = [store.get(i) for i in message_ids]
            return dict(Counter(r.status.value if r else "missing" for r in found))
        finally:
            store.redis.close()

    def post(self, event: dict[str, Any]) -> httpx.Response:
        return self.http.post("/v1/events", json=event)

    def outbox_messages(self) -> list[dict[str, Any]]:
        if not self.outbox.exists():
            return []
        return [json.loads(path.read_text()) for path in sorted(self.outbox.glob("*.json"))]

    def sent_for(self, message_ids: set[str]) -> list[dict[str, Any]]:
        return [m for m in self.outbox_messages() if m["id"] in message_ids]
