"""Publication's gRPC servicer: the public view of a report for other services and partners."""
from __future__ import annotations

from paht.publication.v1 import publication_pb2, publication_pb2_grpc
from paht.runtime.grpcx import run_use_case
from services.publication.entrypoints.api import iso
from services.publication.service_layer import handlers


class PublicationServicer(publication_pb2_grpc.PublicationServiceServicer):
    def __init__(self, ctx):
        self.ctx = ctx

    async def GetPublicReport(self, request, context):
        r, timeline = await run_use_case(context, handlers.get_public_report, self.ctx.uow(), request.report_id)
        return publication_pb2.PublicReport(
            report_id=r.report_id,
            tracking_code=r.tracking_code,
            status=r.status,
            title=r.title,
            answer_text=r.public_answer or "",
            timeline=[
                publication_pb2.TimelineEntry(kind=e.kind, at=iso(e.at), label=e.step.event_label.vi)
                for e in timeline
            ],
        )


def register(ctx, server) -> None:
    publication_pb2_grpc.add_PublicationServiceServicer_to_server(PublicationServicer(ctx), server.server)
    server.add([publication_pb2.DESCRIPTOR.services_by_name["PublicationService"].full_name])
