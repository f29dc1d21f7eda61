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

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                reply = fake.replies.pop(0) if fake.replies else Reply()
                if time.time() < fake.outage_until:
                    reply = Reply(503, 20503)
                if self.headers.get("Authorization") != f"Basic {expected}":
                    reply = Reply(401, 20003)
                fake.requests.append({"path": self.path, "form": form, "at": time.time()})
                time.sleep(reply.delay)
                if reply.code is None:
                    body = {"sid": f"SM{len(fake.requests):032d}", "status": "queued", **form}
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
