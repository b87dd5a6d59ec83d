"""CloudEvents 1.0 (binary mode) over NATS headers; the body is a protobuf message from proto/."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

CONTENT_TYPE = "application/protobuf"
# Generated modules holding event bodies, imported so that their types can be decoded by name.
EVENT_MODULES = [
    "paht.intake.v1.events_pb2",
    "paht.dispatch.v1.events_pb2",
    "paht.handling.v1.events_pb2",
    "paht.publication.v1.events_pb2",
    "paht.sync.v1.events_pb2",
]


def load_event_modules() -> None:
    for name in EVENT_MODULES:
        importlib.import_module(name)


def subject_for(node_id: str, service: str, type_name: str) -> str:
    """Return the NATS subject of an event: paht.<node>.<service>.<EventName>."""
    return f"paht.{node_id}.{service}.{type_name.rsplit('.', 1)[-1]}"


def stream_for(node_id: str, service: str) -> tuple[str, str]:
    """Return (stream name, subject wildcard) holding a service's events on a node."""
    def safe(name: str) -> str:
        return "".join(c if c.isalnum() else "_" for c in name).upper()

    return f"PAHT_{safe(node_id)}_{safe(service)}", f"paht.{node_id}.{service}.>"


@dataclass
class Envelope:
    id: str
    source: str          # /paht/<node>/<service>
    type: str            # full protobuf name, e.g. paht.intake.v1.ReportSubmitted
    subject: str         # reports/<report id>
    time: str            # RFC 3339
    report_id: str
    report_version: int
    data: bytes
    traceparent: str = ""
    tracestate: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def producer(self) -> str:
        return self.source.rstrip("/").rsplit("/", 1)[-1]

    @property
    def origin_node(self) -> str:
        """The node whose service produced the event (from ce-source /paht/<node>/<service>)."""
        parts = self.source.strip("/").split("/")
        return parts[-2] if len(parts) >= 2 else ""

    def position_key(self, local_node: str) -> str:
        """Which per-report sequence the event belongs to, for a consumer on `local_node`: <producer>:<report> for
        its own node's events, <node>.<producer>:<report> for another node's (their versions are counted apart), and
        <node>.<producer>+copy:<report> for what a hub's border wrote into its copies stream (numbered apart again)."""
        origin = self.origin_node
        if not local_node or not origin or origin == local_node:
            return f"{self.producer}:{self.report_id}"
        if self.extra.get("Paht-Copy"):  # a hub's read-only copy (federation.COPY_HEADER): numbered apart by its border
            return f"{origin}.{self.producer}+copy:{self.report_id}"
        return f"{origin}.{self.producer}:{self.report_id}"

    def headers(self) -> dict[str, str]:
        headers = {
            "Nats-Msg-Id": self.id,  # JetStream drops a second publish of the same id
            "ce-specversion": "1.0",
            "ce-id": self.id,
            "ce-source": self.source,
            "ce-type": self.type,
            "ce-subject": self.subject,
            "ce-time": self.time,
            # NATS binding, binary mode: every attribute is a ce- header, datacontenttype included
            # (a plain content-type header would announce structured mode).
            "ce-datacontenttype": CONTENT_TYPE,
            "ce-dataschema": f"proto:{self.type}",
            # CloudEvents extension attributes of PAHT (lower-case letters only, as the spec requires)
            "ce-reportid": self.report_id,
            "ce-reportversion": str(self.report_version),
        }
        if self.traceparent:
            headers["traceparent"] = self.traceparent
        if self.tracestate:
            headers["tracestate"] = self.tracestate
        headers.update(self.extra)
        return headers

    @classmethod
    def for_event(cls, event: Message, *, node_id: str, service: str, report_id: str, version: int, id: str | None = None,
                  time: str | None = None, traceparent: str = "", tracestate: str = "") -> "Envelope":
        """Wrap an event body of `service` on `node_id` about one report (its meta is the caller's to fill)."""
        from paht.runtime.ids import new_id

        return cls(id=id or new_id(), source=f"/paht/{node_id}/{service}", type=event.DESCRIPTOR.full_name,
                   subject=f"reports/{report_id}", time=time or now_rfc3339(), report_id=report_id, report_version=version,
                   data=event.SerializeToString(), traceparent=traceparent, tracestate=tracestate)

    @classmethod
    def from_nats(cls, headers: dict[str, str] | None, data: bytes) -> "Envelope":
        h = headers or {}
        missing = [k for k in ("ce-id", "ce-type", "ce-source", "ce-reportid", "ce-reportversion") if k not in h]
        if missing:
            raise ValueError(f"not a PAHT event: missing headers {missing}")
        return cls(
            id=h["ce-id"],
            source=h["ce-source"],
            type=h["ce-type"],
            subject=h.get("ce-subject", ""),
            time=h.get("ce-time", ""),
            report_id=h["ce-reportid"],
            report_version=int(h["ce-reportversion"]),
            data=data,
            traceparent=h.get("traceparent", ""),
            tracestate=h.get("tracestate", ""),
            extra={k: v for k, v in h.items() if k.startswith("Paht-")},
        )

    def decode(self) -> Message:
        """Return the event body as its protobuf message."""
        load_event_modules()
        descriptor = descriptor_pool.Default().FindMessageTypeByName(self.type)
        message = message_factory.GetMessageClass(descriptor)()
        message.ParseFromString(self.data)
        return message


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
