"""Runtime settings, read from ``NOTIFIER_*`` environment variables and a ``.env`` file.

The engine's knobs are declared here, each with its meaning; each channel declares its own in
its module (a :class:`~notifier.channels.registry.ChannelSettings` on its plug-in), and
:class:`Settings` is composed of them all, found through the registry: one model, read,
checked and reported as one. A test checks that the README lists every field, so the
documentation cannot silently drift from the code.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from types import new_class
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from notifier.channels.registry import settings_models
from notifier.scopes import NAME_PATTERN, NAME_RULE, parse_scopes


def sentinel_addresses(value: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` as pairs; a ValueError naming the part that is not one."""
    found = []
    for part in (p.strip() for p in value.split(",")):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{part!r} is not host:port (e.g. sentinel-1:26379)")
        found.append((host.strip("[]"), int(port)))
    return found


if TYPE_CHECKING:  # the type checker sees the engine's fields; a channel's, through its `of`
    ChannelFields = BaseModel
else:  # every channel's declared settings, as one model
    ChannelFields = new_class(
        "ChannelFields", settings_models(), exec_body=lambda body: body.update(__module__=__name__)
    )


class Settings(BaseSettings, ChannelFields):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFIER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    redis_url: str | None = Field(
        default=None,
        description="Redis/Valkey URL for the engine's data. Unset: an embedded Valkey is started.",
    )
    redis_sentinels: str | None = Field(
        default=None,
        description="Sentinels to ask for the primary, comma-separated host:port (instead of "
        "NOTIFIER_REDIS_URL); every process follows a failover by itself.",
    )
    redis_sentinel_service: str = Field(
        default="notifier", description="The name the sentinels monitor the primary under."
    )
    redis_username: str | None = Field(
        default=None, description="Username (ACL) on the Redis/Valkey servers, with Sentinel."
    )
    redis_password: SecretStr | None = Field(
        default=None, description="Password of the Redis/Valkey servers, with Sentinel."
    )
    redis_sentinel_password: SecretStr | None = Field(
        default=None, description="Password of the sentinels themselves (their requirepass)."
    )
    redis_tls: bool = Field(
        default=False, description="TLS to the servers and the sentinels (with a URL: rediss://)."
    )
    redis_tls_ca_file: Path | None = Field(
        default=None, description="CA bundle to trust for the servers' TLS certificates."
    )
    redis_wait_replicas: int | None = Field(
        default=None,
        ge=0,
        description="Replicas that must confirm a write (WAIT) before an event is answered 202, "
        "a provider is called, or a send is taken as recorded. Unset: 1 with Sentinel, 0 with "
        "NOTIFIER_REDIS_URL.",
    )
    redis_wait_timeout_ms: int = Field(
        default=1000,
        ge=1,
        description="How long a write waits for those replicas; then the API answers 503 and "
        "a worker tries again (up to NOTIFIER_WORKER_REDIS_WAIT_SECONDS).",
    )
    broker_redis_db: int = Field(
        default=1,
        description="Logical database for Dramatiq's keys (its maintenance scans with KEYS).",
    )
    broker_heartbeat_timeout_ms: int = Field(
        default=10_000,
        description="A worker silent this long is presumed dead; its messages are redelivered.",
    )
    broker_maintenance_chance: int = Field(
        default=1_000_000,
        description="Per million broker commands, how many also look for dead workers' "
        "messages to redeliver; with the heartbeat, sets how fast a crash is recovered.",
    )
    # Every command (Dramatiq skips acks): the check is two range reads on small sorted sets
    # when no worker is dead. At 5 %, an idle worker (one fetch a second) took up to 25 s
    # beyond the heartbeat timeout to notice a dead one.
    data_dir: Path = Field(
        default=Path("var"),
        description="Local state: embedded Valkey data and append-only file live under it.",
    )
    embedded_redis_port: int = Field(
        default=6390, description="Port of the embedded Valkey server (loopback only)."
    )
    rules_dir: Path = Field(default=Path("examples/rules"), description="Folder of rule files.")
    templates_dir: Path = Field(
        default=Path("examples/templates"), description="Folder of message templates."
    )
    rules_reload_seconds: float = Field(
        default=1.0,
        description="How often the API looks for changed rule and template files, and workers for "
        "changed templates (0: never, restart to reload).",
    )
    outbox_dir: Path = Field(
        default=Path("var/outbox"),
        description="Dev outbox: one JSON file per message sent with no provider configured.",
    )
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP API binds to.")
    api_port: int = Field(default=8000, description="Port of the HTTP API.")
    max_request_bytes: int = Field(
        default=65_536, description="Larger request bodies are refused with a 413."
    )
    max_batch_request_bytes: int = Field(
        default=4 * 1024 * 1024,
        description="Larger bodies of POST /v1/events/batch are refused with a 413.",
    )
    api_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Accepted API keys as JSON, client name → key: {"crm": "s3cret"}.',
    )
    api_key_scopes: dict[str, str] = Field(
        default_factory=dict,
        description="Scopes of NOTIFIER_API_KEYS keys as JSON, client name → comma-separated "
        'scopes: {"demo": "events,recipients,erase,ops"}. A key not named: events, '
        "recipients, erase (never ops).",
    )
    idempotency_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        description="How long an event id is remembered to make retries plan only once.",
    )
    retention_days: int = Field(
        default=30, description="How long finished message records are kept, then expire."
    )
    scheduler_batch_size: int = Field(default=500, description="Due messages claimed per batch.")
    delivery_batch_size: int = Field(
        default=50,
        ge=1,
        description="Claimed messages per Dramatiq message: a worker delivers a batch's "
        "messages concurrently.",
    )
    scheduler_poll_seconds: float = Field(
        default=0.2, description="Longest pause of the scheduler between two claims."
    )
    scheduler_gather_seconds: float = Field(
        default=0.05,
        ge=0,
        description="Shortest pause between two claims: messages falling due meanwhile leave "
        "together, as one batch, instead of one Dramatiq message each (they wait at most this "
        "long).",
    )
    claim_lease_seconds: int = Field(
        default=300,
        description="A claimed message not finished within this time is returned to the schedule.",
    )
    retry_base_seconds: float = Field(
        default=30.0, description="First delay after a temporary failure; doubles each attempt."
    )
    max_attempts: int = Field(
        default=8, description="Temporary failures tolerated before a message fails for good."
    )
    recipient_cap_max: int = Field(
        default=20,
        description="At most this many messages per recipient per window, whatever the rule "
        "(networks block more than 20 identical SMS per number per hour). 0: no cap.",
    )
    recipient_cap_window_seconds: int = Field(
        default=3600, description="The window of NOTIFIER_RECIPIENT_CAP_MAX."
    )
    sms_normalization: Literal["keep", "gsm"] = Field(
        default="gsm",
        description="gsm: rewrite typographic French (« », ’, …, œ, ç) into GSM-7, the cheaper "
        "encoding; keep: send as written, in UCS-2 when needed.",
    )
    quick_exit_url: str = Field(
        default="https://meteofrance.com/",
        pattern=r"^https?://",
        description='The neutral public site the citizen pages\' "Quitter rapidement" control '
        "replaces them with.",
    )
    public_url: str | None = Field(
        default=None,
        description="Public base URL of the API process (https://…): links to the citizen's "
        "pages in every e-mail and one-click unsubscribe links are built on it. Unset: none; "
        "with e-mail through NOTIFIER_SMTP_HOST, the API and workers refuse to start.",
    )
    discreet_public_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Base URL of the citizen pages in discreet messages: a host that names "
        "nothing (it may be read on a watched phone), served by the same API. Unset: discreet "
        "messages carry no link.",
    )
    link_ttl_days: int = Field(
        default=30, ge=1, description="How long a link to the citizen's pages stays valid."
    )
    legal_notice_url: str | None = Field(
        default=None,
        description="Address of the operator's legal notice (mentions légales), linked from "
        "every page's footer. Unset: /mentions-legales, a page saying it is not published yet.",
    )
    personal_data_url: str | None = Field(
        default=None,
        description="Address of the operator's personal data notice, linked from every page's "
        "footer. Unset: /donnees-personnelles, a page saying it is not published yet.",
    )
    accessibility_contact: str | None = Field(
        default=None,
        description="Where a person reports an accessibility problem (mailto: or https: URL), "
        "given in the accessibility statement. Unset: the unit that wrote to them.",
    )
    provider_timeout_seconds: float = Field(
        default=10.0, description="Timeout of each request to an SMS, e-mail or push provider."
    )
    worker_redis_wait_seconds: float = Field(
        default=120.0,
        description="How long a worker waits for Redis to come back in the middle of a delivery "
        "before handing the message to Dramatiq's retries.",
    )
    worker_processes: int = Field(default=1, description="Worker processes for `notifier run`.")
    worker_threads: int = Field(
        default=16,
        description="Dramatiq threads per worker process: the batches it works on at once "
        "(their deliveries share the send threads below).",
    )
    worker_sends_in_flight: int = Field(
        default=100,
        ge=1,
        description="Deliveries one worker process runs at once, all its batches together: "
        "its provider calls in flight (throughput ≈ this ÷ the provider's latency).",
    )
    log_level: str = Field(default="INFO", description="Log level of every process.")
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the scheduler's and the workers' metrics servers bind to (the "
        "API serves /metrics on its own port).",
    )
    scheduler_metrics_port: int = Field(
        default=9192, description="Port of the scheduler's /metrics (one per scheduler)."
    )
    worker_metrics_port: int = Field(
        default=9191,
        description="Port of the workers' /metrics: every process of one `notifier worker`.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key of the keyed hashes of contacts (the SMS STOP list) and of signed "
        "links; the same in every process, at least 32 characters. Unset: a key made once "
        "and kept in <data_dir>/secret-key, for a single machine.",
    )

    @field_validator("redis_sentinels")
    @classmethod
    def _host_ports(cls, value: str | None) -> str | None:
        if value is not None:
            sentinel_addresses(value)
        return value

    @model_validator(mode="after")
    def _one_redis(self) -> Settings:
        if self.redis_url and self.redis_sentinels:
            raise ValueError(
                "set NOTIFIER_REDIS_URL (one server) or NOTIFIER_REDIS_SENTINELS, not both"
            )
        return self

    def wait_replicas(self) -> int:
        """Replicas a durable write waits for: the setting, else 1 with Sentinel, 0 without."""
        if self.redis_wait_replicas is not None:
            return self.redis_wait_replicas
        return 1 if self.redis_sentinels else 0

    @field_validator("api_keys")
    @classmethod
    def _keys_not_empty(cls, keys: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for client, key in keys.items():
            if not NAME_PATTERN.fullmatch(client):
                raise ValueError(f"client name {client!r}: {NAME_RULE}")
            if len(key.get_secret_value()) < 8:
                raise ValueError(f"API key of client {client!r} is shorter than 8 characters")
        return keys

    @model_validator(mode="after")
    def _scoped_keys_exist(self) -> Settings:
        for client, scopes in self.api_key_scopes.items():
            if client not in self.api_keys:
                raise ValueError(f"NOTIFIER_API_KEY_SCOPES names {client!r}: no such key")
            parse_scopes(scopes)
        return self

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return key

    @field_validator("legal_notice_url", "personal_data_url", "accessibility_contact")
    @classmethod
    def _a_link(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://", "mailto:", "/")):
            raise ValueError("must be an https:, http: or mailto: URL, or a path on this site")
        return value

    def secret(self) -> bytes:
        """The secret key; without NOTIFIER_SECRET_KEY, one made once under ``data_dir``."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = path.with_name(f"secret-key.{os.getpid()}")
            fresh.write_text(secrets.token_hex(32))
            fresh.chmod(0o600)
            with suppress(FileExistsError):  # another process made it first: theirs wins
                os.link(fresh, path)
            fresh.unlink()
        return path.read_text().strip().encode()

    def broker_url(self, engine_url: str) -> str:
        """The Dramatiq broker URL: the engine's server, another logical database."""
        base = engine_url.split("?", 1)[0].rstrip("/")
        scheme, _, rest = base.partition("://")
        host = rest.split("/", 1)[0]
        return f"{scheme}://{host}/{self.broker_redis_db}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
