"""Settings read from the environment (and .env), one object per process."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("intake", "dispatch", "handling", "publication", "sync")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAHT_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data: Path = Path("paht-data")
    port: int = 8080
    node_id: str = "province"
    # Federation (docs/federation.md). On the province: the hubs (district IOCs) that run a node of their own, e.g.
    # "donghoi"; the cases of the agencies the directory says a declared hub hosts are handled on that hub. On a hub:
    # the node it joins (the province). Both unset: one node handles everything.
    hubs: str = ""
    parent_node: str = ""
    # On a hub (set by `paht up --node … --join URL`): where the province answers, and the file holding this hub's secret,
    # with which the hub copies the files of the reports it owns from the province's intake.
    parent_url: str | None = None
    join_secret_file: Path | None = None
    # On the province: the leaf URL hubs are told at their join (tls://… in production, through a load balancer or a
    # VPN); unset: the leafnode listener `paht up` starts (127.0.0.1, or PAHT_LEAF_HOST).
    leaf_public_url: str | None = None
    # Set only in production or tests; unset means the embedded default (SQLite / bundled nats-server).
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    nats_url: str | None = Field(default=None, validation_alias="NATS_URL")
    # PostgreSQL: each service lives in schema <prefix><service>. Tests set a prefix to stay apart.
    db_schema_prefix: str = ""
    # PostgreSQL connections a process keeps open, and how many more it may open for a moment (those are closed again
    # when returned). Keep the pool above what a process uses at once (its worker threads, consumers and background
    # jobs): below it every busy moment opened and closed connections, and PostgreSQL's forks ate the cores.
    db_pool_size: int = 12
    db_max_overflow: int = 8

    # This process (set by `paht serve`)
    service: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 50051
    max_body_bytes: int = 1_000_000

    # The address people use (edge or ingress), e.g. https://paht.quangbinh.gov.vn; unset: taken from the request.
    public_url: str | None = None
    # Comma-separated CIDRs whose X-Forwarded-* headers are believed; anyone else's are ignored.
    trusted_proxies: str = "127.0.0.1/32,::1/128"
    # HTTPS only: the Secure flag on every cookie and Strict-Transport-Security. Unset: on in production.
    secure_cookies: bool | None = None
    hsts: bool | None = None

    # gRPC
    grpc_timeout_s: float = 5.0
    grpc_tls: Literal["off", "tls", "mtls"] = "off"
    grpc_cert: Path | None = None
    grpc_key: Path | None = None
    grpc_ca: Path | None = None

    # Staff tokens: a built-in issuer (dispatch) or any OIDC provider.
    token_issuer: str = "paht"
    token_audience: str = "paht"
    token_private_key_file: Path | None = None
    token_public_key_file: Path | None = None
    token_jwks_url: str | None = None
    token_roles_claim: str = "roles"
    token_org_claim: str = "org_unit"
    token_ttl_s: int = 8 * 3600
    # Password checks (argon2) run in their own pool: this many at once, this many more waiting; beyond, 503 at once.
    sign_in_workers: int = 2
    sign_in_queue: int = 8
    demo_password: str | None = None

    # Telemetry: none (silent) | console | otlp | jsonl:/path/file
    otel_exporter: str = "none"
    log_level: str = "INFO"

    # Notifications to staff (SLA warnings and breaches, unacknowledged emergencies): a webhook of the
    # province's notification gateway (SMS/e-mail/Zalo behind it), signed with the secret; unset: the
    # development outbox under the data folder (never used in production: notices then show only in consoles).
    notify_webhook_url: str | None = None
    notify_webhook_secret: str | None = None

    # Emergency forwarding (113 police, 114 fire and rescue, 115 ambulance): each desk's webhook, signed with
    # the shared secret; unset: the development outbox (a fake desk). Unacknowledged after this: re-alert the IOC.
    emergency_webhook_113: str | None = None
    emergency_webhook_114: str | None = None
    emergency_webhook_115: str | None = None
    emergency_webhook_secret: str | None = None
    emergency_ack_timeout_s: int = 180

    # SMS to reporters (one-time codes): a brandname-SMS provider's HTTP API (JSON POST with the brandname,
    # the phone, the text and the API key; the body signed with the secret, X-PAHT-Signature). Unset: the
    # development outbox <data>/dev-outbox/sms.jsonl, never in production (there sending is refused).
    sms_gateway_url: str | None = None
    sms_gateway_key: str | None = None
    sms_gateway_secret: str | None = None
    sms_brandname: str = "QUANGBINH-S"   # the registered sender name (at most 11 characters)
    sms_timeout_s: float = 5.0
    # One-time codes: the key their hashes are made with (required in production; elsewhere <data>/keys/otp.key),
    # and how often a code may be sent: once per otp_resend_after_s and otp_per_phone_hour / _day per phone,
    # otp_per_address_hour per client address (an IPv6 client by its /64). Fixed windows shared by all replicas.
    otp_secret: str | None = None
    otp_resend_after_s: int = 60
    otp_per_phone_hour: int = 5
    otp_per_phone_day: int = 10
    otp_per_address_hour: int = 20

    # Notices to reporters (intake tells the reporter of every change of their report): by SMS (the gateway above),
    # by e-mail through an SMTP server (smtp_tls: "starttls", "ssl" or "off"), and by Web Push to the browsers they
    # subscribed (VAPID: a P-256 private key as a PEM file — its public key, which the browser needs, is derived from
    # it — and a contact, mailto: or https:; the subscribe button shows only when it is set). Unset: the development outboxes
    # <data>/dev-outbox/email.jsonl and push.jsonl, never in production (there sending is refused and retried).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: Literal["starttls", "ssl", "off"] = "starttls"
    smtp_from: str = "PAHT Quảng Bình <no-reply@paht.quangbinh.gov.vn>"
    smtp_timeout_s: float = 10.0
    vapid_private_key_file: Path | None = None
    vapid_subject: str = "mailto:ioc@quangbinh.gov.vn"
    # How often the sender of reporters' notices looks for rows due (it is also woken by the commits of its process).
    reporter_notify_interval_s: float = 2.0

    # SLA monitor: how often it looks for clocks reaching 80 % or 100 % of their time.
    sla_monitor_interval_s: float = 15.0

    # Photos and videos of reports: where the files live (the local disk under <data>/media in the embedded run,
    # S3-compatible object storage — MinIO, Ceph, AWS — in production), what is accepted, and how long an upload
    # never attached to a report is kept. Unset S3 keys: boto3's own chain (environment, instance role).
    media_storage: Literal["local", "s3"] = "local"
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    media_max_photo_bytes: int = 10_000_000
    media_max_video_bytes: int = 50_000_000
    media_max_photos: int = 6
    media_max_videos: int = 2
    media_max_pixels: int = 40_000_000
    media_public_max_side: int = 2560
    # Documents agencies attach while handling a case (PDF, DOCX, XLSX): their size, and a DOCX/XLSX's unpacked size and ratio.
    media_max_document_bytes: int = 20_000_000
    media_max_document_unpacked_bytes: int = 100_000_000
    media_max_document_ratio: int = 100
    media_unattached_keep_h: float = 24.0

    # The citizen app's map: a tile server's URL template ({z}/{x}/{y}, optional {s}) and the attribution its licence asks for.
    map_tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tiles_attribution: str = "© OpenStreetMap contributors"

    # Events
    # `paht up`: how many processes run a service, e.g. "intake=2,publication=1" (the edge shares requests among
    # them; on SQLite they take turns writing). One each by default: on the 2-core machine a second intake process
    # cost more than it brought on both backends (decision 0026: 425 vs 267 creates/s embedded, 295 vs 181 on
    # PostgreSQL, at 8 connections) — more processes pay where there are more cores.
    replicas: str = ""
    relay_poll_s: float = 0.5
    outbox_keep_days: float = 7.0  # published outbox rows are deleted after this (JetStream keeps the events)
    nats_duplicate_window_s: int = 600

    @model_validator(mode="after")
    def _https_defaults(self) -> "Settings":
        if self.secure_cookies is None:
            self.secure_cookies = self.env == "production"
        if self.hsts is None:
            self.hsts = self.env == "production"
        self.public_url = self.public_url.rstrip("/") if self.public_url else None
        self.proxy_networks()  # a mistyped CIDR stops the process at start, not at the first request
        return self

    def proxy_networks(self) -> tuple:
        """Return the trusted proxies as ip_network objects."""
        import ipaddress

        return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in self.trusted_proxies.split(",") if c.strip())

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> "Settings":
        if self.env == "production":
            if not self.database_url or not self.nats_url:
                raise ValueError("production needs DATABASE_URL and NATS_URL")
            if self.demo_password:
                raise ValueError("PAHT_DEMO_PASSWORD must not be set in production")
        return self

    @model_validator(mode="after")
    def _federation(self) -> "Settings":
        from paht.runtime import federation

        federation.check(self)  # a mistyped node name stops the process at start
        return self

    def replica_counts(self) -> dict[str, int]:
        """How many processes `paht up` starts for each service (1 where not said)."""
        counts = {name: 1 for name in SERVICES}
        for part in filter(None, (p.strip() for p in self.replicas.split(","))):
            name, _, number = part.partition("=")
            name = name.strip()
            if name not in counts or not number.strip().isdigit() or not 1 <= int(number) <= 16:
                raise ValueError(f"PAHT_REPLICAS: {part!r} is not <service>=<1..16> for one of {', '.join(SERVICES)}")
            counts[name] = int(number)
        return counts

    def grpc_address(self, service: str) -> str:
        """Return host:port of another service's gRPC server (PAHT_GRPC_<SERVICE>)."""
        value = os.environ.get(f"PAHT_GRPC_{service.upper()}")
        if not value:
            raise RuntimeError(f"PAHT_GRPC_{service.upper()} is not set: where does {service} listen?")
        return value
