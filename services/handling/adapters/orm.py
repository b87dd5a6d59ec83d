"""Handling's tables, mapped onto the domain classes without the domain knowing."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, Float, Index, Integer, MetaData, String, Table, Text, false, true
from sqlalchemy import delete, event, insert, inspect
from sqlalchemy.orm import Session, registry

from paht.runtime.db import Names, UtcDateTime
from paht.runtime.events.tables import add_event_tables
from services.handling.domain.case import Case
from services.handling.domain.status import IN_HAND
from services.handling.domain.support import SupportRequest

metadata = MetaData()
event_tables = add_event_tables(metadata)

cases = Table(
    "cases",
    metadata,
    Column("report_id", String(36), primary_key=True),
    Column("status", String(30), nullable=False, index=True),
    Column("lead_agency_id", String(100), nullable=False),
    Column("lead_agency_name", String(300), nullable=False),
    Column("lead_unit_id", String(100), nullable=False),
    Column("lead_unit_name", String(300), nullable=False),
    Column("refused_unit_id", String(100), nullable=False),
    Column("staff_subject", String(100), nullable=False),
    Column("former_staff_subject", String(100), nullable=False),
    Column("round", Integer, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("handling_due", UtcDateTime(), nullable=False, index=True),
    Column("draft_id", String(36), nullable=False),
    Column("answer_text", Text, nullable=False),
    Column("edited_by_leader", Boolean, nullable=False),
    Column("agency_refusal_reason", Text, nullable=False),
    Column("unit_refusal_reason", Text, nullable=False),
    Column("leader_return_reason", Text, nullable=False),
    Column("ioc_return_reason", Text, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=True, index=True),
    Column("version", BigInteger, nullable=False),
    Column("agency_due", UtcDateTime(), nullable=True),
    Column("approval_due", UtcDateTime(), nullable=True),
    Column("sla_warned", String(80), nullable=False, server_default=""),
    Column("title", String(300), nullable=False, server_default=""),
    Column("reporter_kind", String(20), nullable=False, server_default="person"),
    Column("private_result", Boolean, nullable=False, server_default=false()),
    Column("state_secret", Boolean, nullable=False, server_default=false()),
    Column("handover_message", Text, nullable=False, server_default=""),
    Column("return_proposal_reason", Text, nullable=False, server_default=""),
    Column("answer_finished", Boolean, nullable=False, server_default=true()),
    Column("completion_date", Date, nullable=True),
    Column("answer_letter", Text, nullable=False, server_default=""),
    Column("clarification_id", String(36), nullable=False, server_default=""),
    Column("clarification_question", Text, nullable=False, server_default=""),
    Column("clarification_text", Text, nullable=False, server_default=""),
    Column("clarification_due", UtcDateTime(), nullable=True),
    Column("co_staff", Names(1100), nullable=False, server_default=""),
    # what the report says, as accepted at step 1 (from ReportDispatched): what the people handling it read
    Column("tracking_code", String(20), nullable=False, server_default=""),
    Column("description", Text, nullable=False, server_default=""),
    Column("address_text", String(300), nullable=False, server_default=""),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("media", JSON, nullable=False, server_default="[]"),
    # after publication, the reporter's rating of the answer (publication's ReportRated): the unit sees how it was judged
    Column("reporter_rating", String(20), nullable=False, server_default=""),
    Column("reporter_rating_comment", Text, nullable=False, server_default=""),
    Column("rated_at", UtcDateTime(), nullable=True),
    # who sees a case (domain/visibility.py), with its status: a work list reads the cases still in hand of an agency,
    # a unit or a person without reading the years of finished ones beside them (their own index serves `= x` alone)
    Index("ix_cases_agency_status", "lead_agency_id", "status"),
    Index("ix_cases_unit_status", "lead_unit_id", "status"),
    Index("ix_cases_staff_status", "staff_subject", "status"),
)
# The cases in hand in the work list's order (domain/case.py WORK_ORDER): the IOC's list, which sees every case, reads
# its page from here.
_in_hand = cases.c.status.in_([s.value for s in IN_HAND])
Index("ix_cases_in_hand_order", cases.c.urgent.desc(), cases.c.handling_due, cases.c.report_id,
      postgresql_where=_in_hand, sqlite_where=_in_hand)

# The other staff assigned with the one in charge, one row each: `cases.co_staff` is the record, this table the
# index that lets a staff member's work list find the cases they help with (kept in step by `_keep_team`).
case_team = Table(
    "case_team",
    metadata,
    Column("report_id", String(36), primary_key=True),
    Column("subject", String(100), primary_key=True),
    Index("ix_case_team_subject", "subject"),
)

# Every hand-over and decision of a case, with who, when and the message that went with it (only added to).
case_history = Table(
    "case_history",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("action", String(40), nullable=False),
    Column("status", String(30), nullable=False),
    Column("round", Integer, nullable=False),
    Column("actor_subject", String(100), nullable=False),
    Column("actor_roles", String(200), nullable=False),
    Column("actor_org", String(100), nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_case_history_report_at", "report_id", "at"),
)

# The organisation units as dispatch last published them (DirectoryPublished): step 3 checks the unit a
# coordinator names, and its ancestors, here instead of calling dispatch.
directory_units = Table(
    "directory_units",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("parent_id", String(80), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("hub_node", String(40), nullable=False),
    Column("valid_from", String(10), nullable=False),  # YYYY-MM-DD as published ("" = always)
    Column("valid_to", String(10), nullable=False),    # exclusive ("" = open)
    Column("revision", Integer, nullable=False),
)

# The business calendar as dispatch last published it (CalendarPublished): the one row handling computes
# its deadlines with (step 7's approval day, on the lead unit's working hours).
calendar_copy = Table(
    "calendar_copy",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Column("copied_at", UtcDateTime(), nullable=False),
)

# Step 5: what the lead unit asked other agencies or units, and what they answered (several per case).
support_requests = Table(
    "support_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False, index=True),
    Column("requesting_unit_id", String(100), nullable=False),
    Column("requesting_unit_name", String(300), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("supporter_org_id", String(100), nullable=False),
    Column("supporter_org_name", String(300), nullable=False),
    Column("question", Text, nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("supporter_staff", String(100), nullable=False),
    Column("message", Text, nullable=False),
    Column("answer_text", Text, nullable=False),
    Column("refusal_reason", Text, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=True),
    # the receiving side's inbox: by its unit, open ones first, by deadline
    Index("ix_support_requests_supporter_due", "supporter_org_id", "due_at"),
    Index("ix_support_requests_staff", "supporter_staff"),
)

# Files attached while handling a case (step 6's result and work log, 5.2's support answer): uploaded first, then
# attached by id in the step's own transaction. `attached_to` is "" until then, else "draft:<draft id>",
# "log:<history line id>" or "support:<support request id>". `support_id`: the support request an upload was made
# for (its answer may attach only those), "" for the lead unit's uploads. Blobs: handling/<id>/original (and, for
# photos and videos, handling/<id>/public: the copy without location metadata); no public route serves either.
# On a hub node (federation): the report's files, copied from the province's intake once the case arrives, so that the
# hub's people see them even while the link is down. One row per file; `status`: waiting (to copy), copied (blob at
# handling/report/<media id>), gone (the province no longer lets this hub have it: recalled, or unknown).
report_file_copies = Table(
    "report_file_copies",
    metadata,
    Column("media_id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False, index=True),
    Column("media_type", String(100), nullable=False),
    Column("status", String(10), nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("next_try_at", UtcDateTime(), nullable=False),
    Column("copied_at", UtcDateTime(), nullable=True),
    Column("error", String(300), nullable=False),
)

case_files = Table(
    "case_files",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False),
    Column("support_id", String(36), nullable=False),
    Column("owner", String(100), nullable=False),
    Column("kind", String(10), nullable=False),            # photo, video, document
    Column("media_type", String(100), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("original_key", String(200), nullable=False),
    Column("public_key", String(200), nullable=False),     # "" for documents
    Column("filename", String(200), nullable=False),
    Column("uploaded_at", UtcDateTime(), nullable=False),
    Column("attached_to", String(80), nullable=False, server_default=""),
    Column("attached_at", UtcDateTime(), nullable=True),
    Index("ix_case_files_report_attached", "report_id", "attached_to"),
    Index("ix_case_files_owner", "owner", "attached_to"),
)


_mapper = registry()
_mapper.map_imperatively(Case, cases, version_id_col=cases.c.version, version_id_generator=False)


@event.listens_for(Session, "before_flush")
def _keep_team(session: Session, _context, _instances) -> None:
    """Rewrite a case's rows of `case_team` whenever its `co_staff` changes, in the same transaction (every path that
    changes the team — an assignment, a send-back, a new round — goes through here)."""
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Case):
            continue
        state = inspect(obj)
        if not state.pending and not state.attrs.co_staff.history.has_changes():
            continue
        session.execute(delete(case_team).where(case_team.c.report_id == obj.report_id))
        if obj.co_staff:
            session.execute(insert(case_team), [{"report_id": obj.report_id, "subject": subject} for subject in obj.co_staff])
_mapper.map_imperatively(SupportRequest, support_requests)
