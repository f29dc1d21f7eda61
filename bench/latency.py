"""Benchmark 7: delivery with real provider latency (issue #15's measure).

Providers answer in 100–300 ms, so a worker's throughput is its sends in flight divided by
the latency. Loopback peers that answer after ``--latency`` seconds, on one asyncio loop
(cheap enough never to be the bottleneck): a Twilio-compatible Messages API, an SMTP
server (aiosmtpd), a push service. The real transports (twilio's client, aiosmtplib,
pywebpush) send through one in-process Dramatiq worker with the default settings. The
table shows messages/s beside the ceiling (sends in flight ÷ latency), the peak of calls in
flight at the peer, and how many connections the sends needed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from dramatiq.brokers.redis import RedisBroker

from bench.common import (
    TEMPLATE,
    Result,
    enqueuer,
    flush,
    progress,
    running_worker,
    wait_until,
)
from notifier.channels.base import Transport
from notifier.channels.email import SmtpEmailTransport, SmtpSettings
from notifier.channels.sms import TwilioSmsTransport
from notifier.channels.webpush import WebPushTransport, generate_vapid_keys
from notifier.models import Channel, Contacts, PushSubscription
from notifier.rules.engine import message_id
from notifier.rules.plans import Plan
from notifier.runtime.redis_server import free_port
from notifier.runtime.settings import get_settings
from notifier.scheduling.scheduler import Scheduler
from notifier.store import Store

ACCOUNT = "AC" + "0" * 32


class Peer:
    """What a loopback provider saw: calls in flight (now and at the peak), connections.

    In shared memory: the peers run in a process of their own, so that answering (HTTP
    parsing, aiosmtpd reading each e-mail) never takes the measured worker's CPU.
    """

    FIELDS = ("in_flight", "peak", "calls", "answered", "connections")

    def __init__(self, latency: float, counters: Any) -> None:
        self.latency = latency
        self.counters = counters  # multiprocessing.Array("q", len(FIELDS))

    def __getattr__(self, name: str) -> int:
        if name in Peer.FIELDS:
            return int(self.counters[Peer.FIELDS.index(name)])
        raise AttributeError(name)

    def start_call(self) -> None:
        with self.counters.get_lock():
            self.counters[0] += 1
            self.counters[2] += 1
            self.counters[1] = max(self.counters[1], self.counters[0])

    def end_call(self) -> None:
        with self.counters.get_lock():
            self.counters[0] -= 1
            self.counters[3] += 1

    def connected(self) -> None:
        with self.counters.get_lock():
            self.counters[4] += 1

    def reset(self) -> None:
        with self.counters.get_lock():
            for n in range(len(Peer.FIELDS)):
                self.counters[n] = 0


async def http_peer(peer: Peer, port: int, status: str, body: bytes) -> asyncio.Server:
    """An HTTP/1.1 server with keep-alive that answers every request after the latency."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer.connected()
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
        self.peer.connected()
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


def serve_peers(
    latency: float, ports: dict[str, int], counters: dict[str, Any], stop: Any, ready: Any
) -> None:
    """The peers' process: a Twilio API and a push service on one loop, aiosmtpd beside."""
    loop = asyncio.new_event_loop()
    peers = {name: Peer(latency, shared) for name, shared in counters.items()}
    twilio_body = json.dumps({"sid": "SM" + "0" * 32, "status": "queued"}).encode()
    servers = [
        loop.run_until_complete(http_peer(peers["sms"], ports["sms"], "201 Created", twilio_body)),
        loop.run_until_complete(
            http_peer(peers["webpush"], ports["webpush"], "201 Created", b"{}")
        ),
    ]
    smtp = Controller(SmtpPeer(peers["email"]), hostname="127.0.0.1", port=ports["email"])
    smtp.start()
    ready.set()
    loop.run_until_complete(asyncio.to_thread(stop.wait))
    smtp.stop()
    loop.run_until_complete(shutdown(servers))


def run(url: str, count: int, latency: float) -> list[Result]:
    import workers.actors

    settings = get_settings()
    broker = dramatiq.get_broker()
    assert isinstance(broker, RedisBroker)
    spawn = multiprocessing.get_context("spawn")
    counters = {c.value: spawn.Array("q", len(Peer.FIELDS)) for c in Channel}
    peers = {c: Peer(latency, counters[c.value]) for c in Channel}
    ports = {c.value: free_port() for c in Channel}
    stop, ready = spawn.Event(), spawn.Event()
    process = spawn.Process(
        target=serve_peers, args=(latency, ports, counters, stop, ready), daemon=True
    )
    process.start()
    if not ready.wait(60):
        raise RuntimeError("the loopback peers did not start")
    private, _ = generate_vapid_keys()
    threads, in_flight = settings.worker_threads, settings.worker_sends_in_flight
    transports: Mapping[Channel, Transport] = {
        Channel.SMS: TwilioSmsTransport(
            ACCOUNT,
            "token",
            sender="GENDARMERIE",
            api_base_url=f"http://127.0.0.1:{ports['sms']}",
            connections=in_flight,
        ),
        Channel.EMAIL: SmtpEmailTransport(
            "127.0.0.1",
            ports["email"],
            sender="bench@example.org",
            security="none",
            max_connections=SmtpSettings.of(settings).smtp_max_connections,
        ),
        Channel.WEBPUSH: WebPushTransport(
            private,
            "mailto:bench@example.org",
            connections=in_flight,
            allowed_hosts=("http://127.0.0.1",),  # the loopback peer stands for a push service
        ),
    }
    built = workers.actors.build_deliverer(settings, transports)
    workers.actors.deliverer = lambda: built
    store = Store.from_url(f"{url}/0")
    push_endpoint = f"http://127.0.0.1:{ports['webpush']}/push/x"
    results = []
    try:
        for channel in Channel:
            flush(url)
            progress(f"latency {latency * 1000:.0f} ms: {count} messages by {channel.value}")
            load(store, channel, count, push_endpoint, channel.value)
            scheduler = Scheduler(store, enqueuer(broker))
            while scheduler.tick():  # all of them queued before the worker starts
                pass
            peer = peers[channel]
            cpu = time.process_time()  # this process's: the peers run in their own
            with running_worker(broker, threads):
                seconds = wait_until(answered(peer, count), 900, channel.value)
                cpu = time.process_time() - cpu
            ceiling = in_flight / latency
            rate_ = count / seconds
            extra = f", {peer.connections} connections, {cpu / count * 1000:.2f} ms of CPU each"
            results.append(
                Result(
                    f"7. {channel.value} at {latency * 1000:.0f} ms, one worker process "
                    f"(defaults: {in_flight} sends in flight), messages/s",
                    f"{rate_:,.1f} (ceiling {ceiling:,.0f}; peak {peer.peak} in flight{extra})",
                    "≥ 300",
                    rate_ >= 300,
                )
            )
            progress(f"  {rate_:,.1f}/s, peak in flight {peer.peak}{extra}")
    finally:
        stop.set()
        process.join(30)
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
