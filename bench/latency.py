"""Benchmark 7: delivery with real provider latency (issue #15's measure).

Providers answer in 100–300 ms, so a worker's throughput is its sends in flight divided by
the latency. Loopback peers that answer after ``--latency`` seconds, on one asyncio loop
(cheap enough never to be the bottleneck): a Twilio-compatible Messages API, an SMTP
server (aiosmtpd), a push service. The real transports (twilio's client, aiosmtplib,
pywebpush) send through one in-process Dramatiq worker with the default settings. The
table shows messages/s beside the ceiling (worker threads ÷ latency), the peak of calls in
flight at the peer, and how many connections the sends needed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from dramatiq.brokers.redis import RedisBroker

from bench.common import TEMPLATE, Result, flush, progress, wait_until
from notifier.channels.base import Transport
from notifier.channels.email import SmtpEmailTransport
from notifier.channels.sms import TwilioSmsTransport
from notifier.channels.webpush import WebPushTransport, generate_vapid_keys
from notifier.models import Channel, Contacts, Plan, PushSubscription
from notifier.redis_server import free_port
from notifier.rules.engine import message_id
from notifier.scheduler import Scheduler
from notifier.settings import get_settings
from notifier.store import Store

ACCOUNT = "AC" + "0" * 32


@dataclass
class Peer:
    """What a loopback provider saw: calls in flight (now and at the peak), connections."""

    latency: float
    in_flight: int = 0
    peak: int = 0
    calls: int = 0
    answered: int = 0
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start_call(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.calls += 1
            self.peak = max(self.peak, self.in_flight)

    def end_call(self) -> None:
        with self.lock:
            self.in_flight -= 1
            self.answered += 1


async def http_peer(peer: Peer, port: int, status: str, body: bytes) -> asyncio.Server:
    """An HTTP/1.1 server with keep-alive that answers every request after the latency."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                peer.start_call()
                await asyncio.sleep(peer.latency)
                peer.end_call()
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                    f"Location: /m/{peer.calls}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client left, or the benchmark is over (a cancelled task here is logged)
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", port)


class SmtpPeer:
    """aiosmtpd handler: each message accepted after the latency; sessions counted."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.peer.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.peer.start_call()
        await asyncio.sleep(self.peer.latency)
        self.peer.end_call()
        return "250 OK"


def subscription(endpoint: str) -> PushSubscription:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return PushSubscription.model_validate(
        {
            "endpoint": endpoint,
            "keys": {
                "p256dh": base64.urlsafe_b64encode(key).decode().rstrip("="),
                "auth": base64.urlsafe_b64encode(b"0123456789abcdef").decode().rstrip("="),
            },
        }
    )


def load(store: Store, channel: Channel, count: int, push_endpoint: str, tag: str) -> None:
    now = datetime.now(UTC)
    contacts = Contacts(
        phone="+33612345678",
        email="camille@example.org",
        push=subscription(push_endpoint) if channel is Channel.WEBPUSH else None,
    )
    template = "document_available" if channel is Channel.WEBPUSH else "appointment_reminder"
    data = {**TEMPLATE.data, "document_label": "récépissé", "how_to_get": "À l'accueil."}
    plans = []
    for n in range(count):
        event = f"{tag}-{n}"
        message = TEMPLATE.model_copy(
            update={
                "id": message_id("bench", event, "latency"),
                "event_id": event,
                "subject": f"appointment:{event}",
                "channels": (channel,),
                "template": template,
                "data": data,
                "due_at": now - timedelta(seconds=1),
                "recipient": TEMPLATE.recipient.model_copy(
                    update={"id": f"citizen-{event}", "contacts": contacts}
                ),
            }
        )
        plans.append((f"bench:{event}", Plan(messages=(message,))))
    store.accept_many(plans, now, ttl=3600)


def run(url: str, count: int, latency: float) -> list[Result]:
    import workers.delivery

    settings = get_settings()
    broker = dramatiq.get_broker()
    assert isinstance(broker, RedisBroker)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    peers = {c: Peer(latency) for c in Channel}
    sms_port, push_port, smtp_port = free_port(), free_port(), free_port()
    twilio_body = json.dumps({"sid": "SM" + "0" * 32, "status": "queued"}).encode()
    servers = [
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(10)
        for coroutine in (
            http_peer(peers[Channel.SMS], sms_port, "201 Created", twilio_body),
            http_peer(peers[Channel.WEBPUSH], push_port, "201 Created", b"{}"),
        )
    ]
    smtp = Controller(SmtpPeer(peers[Channel.EMAIL]), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    private, _ = generate_vapid_keys()
    transports: Mapping[Channel, Transport] = {
        Channel.SMS: TwilioSmsTransport(
            ACCOUNT, "token", sender="GENDARMERIE", api_base_url=f"http://127.0.0.1:{sms_port}"
        ),
        Channel.EMAIL: SmtpEmailTransport(
            "127.0.0.1", smtp_port, sender="bench@example.org", security="none"
        ),
        Channel.WEBPUSH: WebPushTransport(private, "mailto:bench@example.org"),
    }
    built = workers.delivery.build_deliverer(settings, transports)
    workers.delivery.deliverer = lambda: built
    store = Store.from_url(f"{url}/0")
    threads = settings.worker_threads
    results = []
    try:
        for channel in Channel:
            flush(url)
            progress(f"latency {latency * 1000:.0f} ms: {count} messages by {channel.value}")
            load(store, channel, count, f"http://127.0.0.1:{push_port}/push/x", channel.value)
            Scheduler(store, lambda claims: _enqueue(broker, claims)).tick()
            peer = peers[channel]
            worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
            worker.start()
            try:
                seconds = wait_until(answered(peer, count), 900, channel.value)
            finally:
                worker.stop()
            ceiling = threads / latency
            rate_ = count / seconds
            extra = f", {peer.connections} connections"
            results.append(
                Result(
                    f"7. {channel.value} at {latency * 1000:.0f} ms, one worker process "
                    f"({threads} threads), messages/s",
                    f"{rate_:,.1f} (ceiling {ceiling:,.0f}; peak {peer.peak} in flight{extra})",
                    "≥ 300",
                    rate_ >= 300,
                )
            )
            progress(f"  {rate_:,.1f}/s, peak in flight {peer.peak}{extra}")
    finally:
        smtp.stop()
        asyncio.run_coroutine_threadsafe(shutdown(servers), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
    return results


async def shutdown(servers: list[asyncio.Server]) -> None:
    """Close the peers and the connections the clients keep alive, before the loop stops."""
    for server in servers:
        server.close()
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def answered(peer: Peer, count: int) -> Callable[[], bool]:
    return lambda: peer.answered >= count


def _enqueue(broker: RedisBroker, claims: list[Any]) -> None:
    from notifier.broker import enqueue_deliveries

    enqueue_deliveries(broker, claims)
