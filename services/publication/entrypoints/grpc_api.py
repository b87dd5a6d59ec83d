"""Publication's gRPC servicer: the public view of a report for other services and partners."""
from __future__ import annotations

from paht.publication.v1 import publication_pb2, publication_pb2_grpc
from paht.runtime.grpcx import run_use_case
from services.publication.domain.public_report import place_deadlines
from services.publication.entrypoints.api import iso
from services.publication.service_layer import handlers


def entry(e, deadline) -> publication_pb2.TimelineEntry:
    """One timeline entry; one that ends a step carries its deadline and whether it was met."""
    out = publication_pb2.TimelineEntry(kind=e.kind, at=iso(e.at), label=e.step.event_label.vi)
    if deadline is not None:
        out.deadline_step, out.due_at, out.on_time = deadline.clock.value, iso(deadline.due_at) or "", bool(deadline.on_time())
    return out


class PublicationServicer(publication_pb2_grpc.PublicationServiceServicer):
    def __init__(self, ctx):
        self.ctx = ctx

    async def GetPublicReport(self, request, context):
        r, timeline = await run_use_case(context, handlers.get_public_report, self.ctx.uow(), request.report_id)
        placed, _open = place_deadlines(r.deadlines(), timeline)  # the same rule as the public timeline
        return publication_pb2.PublicReport(
            report_id=r.report_id,
            tracking_code=r.tracking_code,
            status=r.status,
            title=r.title,
            answer_text=r.public_answer or "",
            timeline=[entry(e, placed.get(e.id)) for e in timeline],
        )


def register(ctx, server) -> None:
    publication_pb2_grpc.add_PublicationServiceServicer_to_server(PublicationServicer(ctx), server.server)
    server.add([publication_pb2.DESCRIPTOR.services_by_name["PublicationService"].full_name])
