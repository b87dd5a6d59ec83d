"""Publication's tables (the public read model), mapped onto the domain classes without the domain knowing."""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, Float, Index, Integer, MetaData, PrimaryKeyConstraint, SmallInteger, String,
                        Table, Text)
from sqlalchemy.orm import registry

from paht.runtime.db import UtcDateTime
from paht.runtime.events.tables import add_event_tables
from services.publication.domain.feedback import Clarification, ReportRating
from services.publication.domain.public_report import PublicReport, TimelineEntry
from services.publication.domain.stats import MEASURES, TIMED, STEPS

metadata = MetaData()
event_tables = add_event_tables(metadata)

public_reports = Table(
    "public_reports",
    metadata,
    Column("report_id", String(36), primary_key=True),
    # Not unique: rows made from another producer's early event have no code until intake's arrives.
    Column("tracking_code", String(20), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("topic_code", String(60), nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("address_text", String(300), nullable=False),
    Column("area_code", String(20), nullable=False),
    Column("private_result", Boolean, nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("received_at", UtcDateTime(), nullable=True, index=True),
    Column("lead_agency_name", String(300), nullable=False),
    Column("lead_unit_name", String(300), nullable=False),
    Column("answer_text", Text, nullable=False),
    Column("approved_at", UtcDateTime(), nullable=True),  # set with the approved answer: the step 8 queue's order
    Column("approval_note", Text, nullable=False, server_default=""),  # the leader's note to the IOC (staff only)
    Column("published_at", UtcDateTime(), nullable=True),
    Column("refusal_text", Text, nullable=False),
    Column("visibility", String(20), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("publish_due", UtcDateTime(), nullable=True),
    # The current round's step deadlines as events carried them, each with when its clock started (public timeline).
    Column("dispatched_at", UtcDateTime(), nullable=True),
    Column("dispatch_due", UtcDateTime(), nullable=True),
    Column("agency_due", UtcDateTime(), nullable=True),
    Column("handling_due", UtcDateTime(), nullable=True),
    Column("drafted_at", UtcDateTime(), nullable=True),
    Column("approval_due", UtcDateTime(), nullable=True),
    Column("reporter_ref", String(36), nullable=False, server_default=""),  # never in any view: checks who gives feedback
    # The portal's free-text search: title, description, address and tracking code folded (paht.runtime.text.fold:
    # lower case, no diacritics, đ as d), refreshed by the read model whenever the content arrives or is edited.
    Column("search_text", Text, nullable=False, default=""),
    # The photos and videos the IOC left public, as intake's newest event listed them (shown only while the report is
    # public: PublicReport.shown_media).
    Column("public_media", JSON, nullable=False, server_default="[]"),
    # For the statistics (staff only): the channel, the lead agency by id, and when steps 1, 3, 3-6 and 7 ended.
    Column("channel", String(20), nullable=False, server_default=""),
    Column("lead_agency_id", String(80), nullable=False, server_default=""),
    Column("accepted_at", UtcDateTime(), nullable=True),
    Column("unit_assigned_at", UtcDateTime(), nullable=True),
    Column("handled_at", UtcDateTime(), nullable=True),
    Column("leader_approved_at", UtcDateTime(), nullable=True),
    # The portal's filters and map: the list is newest first within a topic or an area; the map reads a box of
    # lat/lon (the index holds the visibility rule's columns, the topic and the area too, so the grid of a filtered map
    # is read from the index alone).
    Index("ix_public_reports_topic_received", "topic_code", "received_at"),
    Index("ix_public_reports_area_received", "area_code", "received_at"),
    Index("ix_public_reports_lat_lon", "lat", "lon", "status", "visibility", "received_at", "topic_code", "area_code"),
    # the map's strips along a box's west and east edges (its cells inside come from map_cells)
    Index("ix_public_reports_lon_lat", "lon", "lat", "status", "visibility", "received_at"),
)

# The map's cell counts (adapters/map_cells.py): per cell of each level of domain/portal.py MAP_LEVELS, how many listed
# reports with a place it holds and the sums of their positions, kept in step with public_reports in its transactions.
map_cells = Table(
    "map_cells",
    metadata,
    Column("level", Integer, primary_key=True),
    Column("cx", Integer, primary_key=True),  # floor(lon * 2**level)
    Column("cy", Integer, primary_key=True),  # floor(lat * 2**level)
    Column("count", Integer, nullable=False),
    Column("lat_sum", Float, nullable=False),
    Column("lon_sum", Float, nullable=False),
)

# The reporter's rating of the published answer: one row per report (the key is the "once").
report_ratings = Table(
    "report_ratings",
    metadata,
    Column("report_id", String(36), primary_key=True),
    Column("score", String(20), nullable=False),
    Column("comment", Text, nullable=False),
    Column("rated_at", UtcDateTime(), nullable=False),
    Column("changed_at", UtcDateTime(), nullable=True),
    Column("changes", Integer, nullable=False),
)

# The reporter's requests to clarify the answer, and the lead unit's clarifications (from handling's ClarificationGiven).
clarifications = Table(
    "clarifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False, index=True),
    Column("question", Text, nullable=False),
    Column("asked_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=True),
    Column("status", String(10), nullable=False),
    Column("answer_text", Text, nullable=False),
    Column("given_at", UtcDateTime(), nullable=True),
    # The leader's approval starts the IOC's step-8 window; the IOC publishes it or sends it back (its reason kept).
    Column("approved_at", UtcDateTime(), nullable=True),
    Column("publish_due", UtcDateTime(), nullable=True),
    Column("return_reason", Text, nullable=False, server_default=""),
    Index("ix_clarifications_status_approved", "status", "approved_at"),
)

# Publication's copy of dispatch's taxonomy (TaxonomyPublished, replaced whole): the portal's group filter, the
# names of groups and topics on public pages, and Open311's services.
taxonomy_topics = Table(
    "taxonomy_topics",
    metadata,
    Column("code", String(60), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("name_en", String(300), nullable=False),
    Column("group_code", String(60), nullable=False, index=True),
    Column("group_name", String(300), nullable=False),
    Column("group_name_en", String(300), nullable=False),
    Column("valid_from", String(10), nullable=False),  # YYYY-MM-DD as published ("" = always)
    Column("valid_to", String(10), nullable=False),    # exclusive ("" = open)
    Column("revision", Integer, nullable=False),
    Column("keywords", JSON, nullable=False),          # the topic's keywords (Open311's services list them)
    Column("copied_at", UtcDateTime(), nullable=True),  # when this copy was made (Open311 discovery's changeset)
)

# The names of administrative areas, from dispatch's directory (DirectoryPublished, replaced whole): every
# province, district, ward or commune unit is named after its GSO code, which is what a report's area_code holds.
# A code reused after a reform has one row per version (its validity says which name is current).
area_names = Table(
    "area_names",
    metadata,
    Column("unit_id", String(80), primary_key=True),
    Column("code", String(20), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("name", String(300), nullable=False),
    Column("name_en", String(300), nullable=False),
    Column("valid_from", String(10), nullable=False),
    Column("valid_to", String(10), nullable=False),
    Column("revision", Integer, nullable=False),
)

# The statistics (domain/stats.py). One narrow row of facts per report, kept by the read model in the transaction
# that changes the report or its rating (adapters/stats.py): the day it was received in Vietnam, its codes, each
# step's time and whether it met its deadline, the rating. Never a title, a place or anything of the reporter.
report_stats = Table(
    "report_stats",
    metadata,
    Column("report_id", String(36), primary_key=True),
    Column("day", Date, nullable=False),
    Column("topic_code", String(60), nullable=False),
    Column("area_code", String(20), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("agency_id", String(80), nullable=False),
    Column("agency_name", String(300), nullable=False),  # as dispatched: names an agency the directory copy does not
    Column("status", String(20), nullable=False),
    *(Column(f"{s.value}_s", Integer, nullable=True) for s in STEPS),      # the step's time in seconds; NULL while open
    *(Column(f"{s.value}_met", Boolean, nullable=True) for s in TIMED),    # met its deadline; NULL while open or none known
    *(Column(f"{s.value}_b", SmallInteger, nullable=True) for s in STEPS),  # the time's histogram bucket (bucket_of); NULL while open
    Column("score", String(20), nullable=False),
    # a filtered period reads the matching reports' facts: by day, or by a code and day
    Index("ix_report_stats_day", "day"),
    Index("ix_report_stats_topic_day", "topic_code", "day"),
    Index("ix_report_stats_area_day", "area_code", "day"),
    Index("ix_report_stats_agency_day", "agency_id", "day"),
)

# The per-day rollup of report_stats: per day, the totals (dim "") and the sums under each code of each dimension
# (topic, area, channel, agency, status). A period without filters is summed from here.
stats_days = Table(
    "stats_days",
    metadata,
    Column("dim", String(10), nullable=False),
    Column("day", Date, nullable=False),
    Column("code", String(80), nullable=False),
    *(Column(name, BigInteger if name.endswith("_seconds") else Integer, nullable=False, server_default="0") for name in MEASURES),
    PrimaryKeyConstraint("dim", "day", "code"),
    Index("ix_stats_days_dim_code", "dim", "code"),  # is a code known (the filters' check)
)

# Each step's times per day as a histogram (domain/stats.py bucket_of): the 90th percentile of a period without filters.
stats_durations = Table(
    "stats_durations",
    metadata,
    Column("step", String(12), nullable=False),
    Column("day", Date, nullable=False),
    Column("bucket", Integer, nullable=False),
    Column("reports", Integer, nullable=False),
    PrimaryKeyConstraint("step", "day", "bucket"),
)

# The names of the units that may lead, from dispatch's directory (DirectoryPublished, replaced whole): the statistics
# name a lead agency by its id (every version of the tree: an id is one version of a unit).
agency_names = Table(
    "agency_names",
    metadata,
    Column("unit_id", String(80), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("name_en", String(300), nullable=False),
    Column("revision", Integer, nullable=False),
)

timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("note", Text, nullable=False),
    # a report's timeline in order, and its last change (Open311's updated_datetime) from the index alone
    Index("ix_timeline_entries_report_at", "report_id", "at"),
)

_mapper = registry()
_mapper.map_imperatively(PublicReport, public_reports, version_id_col=public_reports.c.version, version_id_generator=False)
_mapper.map_imperatively(TimelineEntry, timeline_entries)
_mapper.map_imperatively(ReportRating, report_ratings)
_mapper.map_imperatively(Clarification, clarifications)
