"""A Twilio-compatible Messages API on loopback, driven by the real ``twilio`` client.

It checks HTTP Basic auth, records each request's form fields, and answers what the test
scripts: a created message, a Twilio error (status + code), or a delay past the client's
timeout.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token"


class Server(ThreadingHTTPServer):
    request_queue_size = 256  # many workers' send threads connect at once
    daemon_threads = True


@dataclass
class Reply:
    status: int = 201
    code: int | None = None
    delay: float = 0.0
    retry_after: str | None = None  # a Retry-After header, as Twilio sends with a 429


@dataclass
class FakeTwilio:
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    outage_until: float = 0.0  # time.time() before which every request gets a 503
    delay: float = 0.0  # seconds before answering, when no scripted reply says otherwise
    in_flight: int = 0
    peak: int = 0  # the most requests it was answering at once

    def __post_init__(self) -> None:
        fake = self
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the client died mid-request: Twilio creates nothing
                    self.close_connection = True
                    return
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                reply = fake.replies.pop(0) if fake.replies else Reply(delay=fake.delay)
                if time.time() < fake.outage_until:
                    reply = Reply(503, 20503)
                if self.headers.get("Authorization") != f"Basic {expected}":
                    reply = Reply(401, 20003)
                with fake.lock:
                    fake.requests.append({"path": self.path, "form": form, "at": time.time()})
                    number = len(fake.requests)  # its SID: Twilio's answer to this request
                    fake.in_flight += 1
                    fake.peak = max(fake.peak, fake.in_flight)
                time.sleep(reply.delay)
                with fake.lock:
                    fake.in_flight -= 1
                if reply.code is None:
                    body = {"sid": f"SM{number:032d}", "status": "queued", **form}
                else:
                    body = {"code": reply.code, "message": "scripted error", "status": reply.status}
                payload = json.dumps(body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    if reply.retry_after is not None:
                        self.send_header("Retry-After", reply.retry_after)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout tests)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def settings(self) -> dict[str, str]:
        """The environment that sends a notifier process's SMS here."""
        return {
            "NOTIFIER_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "NOTIFIER_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "NOTIFIER_TWILIO_FROM": "GENDARMERIE",
            "NOTIFIER_TWILIO_API_BASE_URL": self.url,
        }
