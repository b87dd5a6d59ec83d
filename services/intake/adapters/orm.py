"""Intake's tables, mapped onto the domain classes without the domain knowing."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, false
from sqlalchemy.orm import registry

from paht.runtime.db import UtcDateTime
from paht.runtime.events.tables import add_event_tables
from services.intake.domain.report import Report, Reporter
from services.intake.domain.vocabulary import WAITING

metadata = MetaData()
event_tables = add_event_tables(metadata)

reporters = Table(
    "reporters",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("email", String(254), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # one person, one row: concurrent first submissions find each other (look-up-or-create);
    # a unique index rather than a constraint, so SQLite adds it without rebuilding the table
    Index("uq_reporters_phone_email", "phone", "email", unique=True),
)

reports = Table(
    "reports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tracking_code", String(20), nullable=False, unique=True),
    Column("reporter_id", String(36), ForeignKey("reporters.id"), nullable=False, index=True),
    Column("channel", String(20), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("topic_code", String(60), nullable=False),
    Column("group_code", String(60), nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("address_text", String(300), nullable=False),
    Column("area_code", String(20), nullable=False),
    Column("private_result", Boolean, nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("received_at", UtcDateTime(), nullable=False, index=True),
    Column("decision_note", Text, nullable=False),
    Column("refusal_reason", String(40), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("reporter_kind", String(20), nullable=False, server_default="person"),
    Column("occurred_at", UtcDateTime(), nullable=True),
    Column("urgent_service", String(3), nullable=False, server_default=""),
    Column("state_secret", Boolean, nullable=False, server_default=false()),
    Column("verification", String(20), nullable=False, server_default="none"),
    Column("channel_name", String(60), nullable=False, server_default=""),
    Column("acknowledged_at", UtcDateTime(), nullable=True),
    Column("edit_request", Text, nullable=False, server_default=""),
    Column("edit_due", UtcDateTime(), nullable=True, index=True),    # the 2-day timers: found by the timer job
    Column("verify_due", UtcDateTime(), nullable=True, index=True),
    Column("duplicate_of", String(36), nullable=False, server_default=""),
    # a client's own key for one submission (an offline draft sent twice, a double tap): the same key from the
    # same sender is the same report; stored as a hash of sender and key
    Column("submission_key", String(64), nullable=True),
    # the answer step 8 published (publication's ResultPublished): the reporter's own page shows it, and for a report
    # whose reporter asked for privacy it is the only place it appears; a state secret's answer is never kept here
    Column("answer_text", Text, nullable=False, server_default=""),
    Column("answer_visibility", String(20), nullable=False, server_default=""),  # public | reporter_only | state_secret
    Column("answered_at", UtcDateTime(), nullable=True),
    Index("uq_reports_submission_key", "submission_key", unique=True),
    # the triage console's look-ups: duplicates near a place with the same topic, a reporter's recent reports
    Index("ix_reports_topic_place", "topic_code", "lat", "lon"),
    Index("ix_reports_reporter_received", "reporter_id", "received_at"),
)
# Step 1's work list (the waiting reports in repositories.WORK_ORDER: urgent first, oldest, id) read in order from
# an index of the waiting reports alone: no sort of the thousands waiting on a busy day, and its count from the index.
_waiting = reports.c.status.in_([s.value for s in WAITING])
Index("ix_reports_step1_order", reports.c.urgent.desc(), reports.c.received_at, reports.c.id,
      postgresql_where=_waiting, sqlite_where=_waiting)

# Photos and videos. A row with no report_id is an upload not yet attached to a report: it is attached
# in the submission's own transaction, and swept (row and files) when it stays unattached too long.
report_media = Table(
    "report_media",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=True, index=True),
    Column("owner", String(100), nullable=False),          # who uploaded it: only they may attach it
    Column("kind", String(10), nullable=False),            # MediaKind
    Column("media_type", String(40), nullable=False),      # as found from the content, never from the name
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("original_key", String(200), nullable=False),   # storage key of the file as sent: staff only
    Column("public_key", String(200), nullable=False),     # re-encoded, without location metadata
    Column("filename", String(200), nullable=False, server_default=""),  # as the sender named it (shown only)
    Column("position", Integer, nullable=False, server_default="0"),
    Column("uploaded_at", UtcDateTime(), nullable=False, index=True),
    # What the public may see of it, the IOC's choice (services/intake/domain/redaction.py): shown or withheld (a photo is
    # shown, a video withheld, until the IOC decides), the rectangles blurred in a photo (fractions of the upright
    # picture), the version of that choice (in the public address: a new one for every change, so no cache keeps an
    # older picture) and the blurred copy's storage key ("" when nothing is blurred: the public copy is shown as it is).
    Column("public_width", Integer, nullable=True),        # the public copy's size in pixels (photos)
    Column("public_height", Integer, nullable=True),
    Column("shown", Boolean, nullable=False, server_default=false()),
    Column("blur", JSON, nullable=False, server_default="[]"),
    Column("redaction_version", Integer, nullable=False, server_default="0"),
    Column("redacted_key", String(200), nullable=False, server_default=""),
)

# A report's history at intake: every action, who, when, why; and the messages between the IOC and the reporter.
report_history = Table(
    "report_history",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor_kind", String(20), nullable=False),      # reporter | staff | system | partner
    Column("actor", String(100), nullable=False),          # staff subject, partner id; "" for the reporter and the system
    Column("action", String(40), nullable=False),          # Action
    Column("text", Text, nullable=False, server_default=""),
    Column("to_reporter", Boolean, nullable=False, server_default=false()),  # shown on the reporter's own page
    Index("ix_report_history_report_at", "report_id", "at"),
)

# SMS one-time codes: only a keyed hash of the code is kept.
otp_challenges = Table(
    "otp_challenges",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("phone", String(20), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("consumed_at", UtcDateTime(), nullable=True),
    Column("locked_at", UtcDateTime(), nullable=True),
)

# A reporter's session after a verified code: only a hash of the token is kept.
reporter_sessions = Table(
    "reporter_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("phone", String(20), nullable=False, index=True),
    Column("origin", String(20), nullable=False),          # web (the site's cookie) or app (a token for an app)
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
)

# Fixed-window counters shared by every replica (SMS per phone and per address, partner requests...).
rate_counters = Table(
    "rate_counters",
    metadata,
    Column("key", String(120), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),  # epoch seconds of the window's start
    Column("count", Integer, nullable=False),
)

# Partner apps (e.g. Đồng Hới's SmartCity app): each its own key, rate limit and channel name.
partner_apps = Table(
    "partner_apps",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("channel_name", String(60), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_prefix", String(12), nullable=False),      # the first characters, to tell keys apart in lists
    Column("rate_per_minute", Integer, nullable=False),
    Column("verifies_phone", Boolean, nullable=False),     # the partner proves its users' phones itself
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Every release of a reporter's contact: who, when, why.
contact_audit = Table(
    "contact_audit",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False, index=True),
    Column("reporter_id", String(36), nullable=False),
    Column("staff_subject", String(100), nullable=False),
    Column("staff_org_unit", String(100), nullable=False),
    Column("purpose", String(300), nullable=False),
    Column("released_at", UtcDateTime(), nullable=False),
)

# Every copy of a report's file to a hub node (federation): which file, of which report, to which node, when. The
# hub's staff then see it with the case's own access rule on the hub.
file_releases = Table(
    "file_releases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False, index=True),
    Column("media_id", String(36), nullable=False),
    Column("node_id", String(40), nullable=False),
    Column("released_at", UtcDateTime(), nullable=False),
)

# intake's copy of dispatch's taxonomy: topics are checked against it when dispatch does not answer
taxonomy_topics = Table(
    "taxonomy_topics",
    metadata,
    Column("code", String(60), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("group_code", String(60), nullable=False),
    Column("group_name", String(300), nullable=False),
    Column("valid_from", Date, nullable=True),   # Vietnamese calendar days; None: always
    Column("valid_to", Date, nullable=True),     # exclusive; None: open
    Column("revision", Integer, nullable=False),  # the taxonomy revision this copy came from
    Column("keywords", JSON, nullable=False, server_default="[]"),  # words citizens use for the topic (suggestions)
    Column("copied_at", UtcDateTime(), nullable=False),
)

# Notices to a report's reporter, one row per change and channel, written in the transaction of the change (a step-1
# use case, or the consumer of another service's event) and sent by the background sender (service_layer/notices.py).
# No phone or address here: the sender looks them up at send time.
reporter_notifications = Table(
    "reporter_notifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False, index=True),
    Column("reporter_id", String(36), nullable=False),
    Column("kind", String(40), nullable=False),            # NoticeKind
    Column("channel", String(10), nullable=False),         # sms | email | push
    Column("text", Text, nullable=False),                  # the message; once sent, exactly what went out
    Column("subject", String(200), nullable=False, server_default=""),
    Column("key", String(120), nullable=False),            # "<event id>:<channel>": the same event never makes two
    Column("status", String(10), nullable=False),          # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("claimed_until", UtcDateTime(), nullable=True),  # a sender's lease; past it, another sender may take the row
    Column("claim", String(36), nullable=False, server_default=""),  # which claim holds it: only that one records the outcome
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("provider_id", String(200), nullable=False, server_default=""),
    Column("error", String(200), nullable=False, server_default=""),
    Index("uq_reporter_notifications_key", "key", unique=True),
    Index("ix_reporter_notifications_due", "status", "next_attempt_at"),
)

# The browsers a reporter subscribed to Web Push (from their own page), per verified phone: the reporter's identity.
push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("phone", String(20), nullable=False, index=True),
    Column("endpoint", String(1000), nullable=False),
    Column("endpoint_hash", String(64), nullable=False),   # sha256 of the endpoint: one row per browser
    Column("p256dh", String(200), nullable=False),
    Column("auth", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("uq_push_subscriptions_endpoint", "endpoint_hash", unique=True),
)

_mapper = registry()
_mapper.map_imperatively(Reporter, reporters)
_mapper.map_imperatively(Report, reports, version_id_col=reports.c.version, version_id_generator=False)
