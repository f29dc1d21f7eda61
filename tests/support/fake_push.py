"""A push service on loopback that does what a browser vendor's does, and what a browser does.

For each POST it verifies the VAPID header (an ES256 JWT signed by the key announced in
``k``, for this service's origin, not expired), then decrypts the aes128gcm body with the
subscriber's private key and auth secret (http_ece), and records the plaintext with the
headers. Replies can be scripted per subscription: 201, 404/410 (gone), 413, 429…
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# NOTIFIER_PUSH_ALLOWED_HOSTS entry that lets the worker call this service (plain http, on
# loopback): named explicitly by each test that uses it, never in the default.
LOOPBACK_PUSH = ("http://127.0.0.1",)


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class Subscriber:
    """A browser's side of a subscription: its keys and what it would receive."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))
    # PushManager.subscribe's applicationServerKey: pushes must be signed with its private key
    application_server_key: str | None = None

    def subscription(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64encode(public), "auth": b64encode(self.auth)},
        }


class VapidRefused(ValueError):
    """The VAPID authentication is invalid: a 403 (RFC 8292, section 4.2)."""


def verify_vapid(header: str, audience: str, key_required: str | None = None) -> dict[str, Any]:
    """The JWT claims, after checking signature, key, audience and expiry; raises if invalid."""
    fields = dict(part.strip().split("=", 1) for part in header.removeprefix("vapid ").split(","))
    token, key = fields["t"], fields["k"]
    if key_required is not None and key.rstrip("=") != key_required.rstrip("="):
        raise VapidRefused("signed with another key than the subscription's")
    signing_input, signature = token.rsplit(".", 1)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64decode(key))
    raw = b64decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VapidRefused("invalid signature") from None
    claims = json.loads(b64decode(signing_input.split(".")[1]))
    if claims["aud"] != audience:
        raise VapidRefused(f"audience {claims['aud']!r} is not {audience!r}")
    if not time.time() < claims["exp"] <= time.time() + 24 * 3600:
        raise VapidRefused("expiry missing, past, or more than 24 h ahead")
    return dict(claims)


@dataclass
class Delivery:
    endpoint_id: str
    headers: dict[str, str]
    claims: dict[str, Any]
    payload: dict[str, Any]


@dataclass
class FakePushService:
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    replies: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    delivered: list[Delivery] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                endpoint_id = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, extra = service._handle(
                    endpoint_id, {k.lower(): v for k, v in self.headers.items()}, body
                )
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def subscribe(self, endpoint_id: str) -> Subscriber:
        subscriber = Subscriber(f"{self.origin}/push/{endpoint_id}")
        self.subscribers[endpoint_id] = subscriber
        return subscriber

    def _handle(
        self, endpoint_id: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str]]:
        scripted = self.replies.get(endpoint_id)
        if scripted:
            return scripted.pop(0)
        subscriber = self.subscribers.get(endpoint_id)
        if subscriber is None:
            return 404, {}
        try:
            claims = verify_vapid(
                headers["authorization"], self.origin, subscriber.application_server_key
            )
            if headers.get("content-encoding") != "aes128gcm":
                raise ValueError("not aes128gcm")
            plaintext = http_ece.decrypt(
                body,
                private_key=subscriber.private_key,
                auth_secret=subscriber.auth,
                version="aes128gcm",
            )
        except Exception as exc:  # any failure to verify or decrypt is a refusal
            self.refused.append(f"{type(exc).__name__}: {exc}")
            # RFC 8292 §4.2: 401 without authentication, 403 with an invalid one
            if "authorization" not in headers:
                return 401, {}
            return 403 if isinstance(exc, VapidRefused) else 400, {}
        self.delivered.append(Delivery(endpoint_id, headers, claims, json.loads(plaintext)))
        return 201, {"Location": f"{self.origin}/message/{len(self.delivered)}"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
