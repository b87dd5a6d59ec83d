"""Handling's gRPC servicer: where a case stands, for other services (no personal data)."""
from __future__ import annotations

from paht.handling.v1 import handling_pb2, handling_pb2_grpc
from paht.runtime.grpcx import run_use_case
from services.handling.service_layer import handlers


class HandlingServicer(handling_pb2_grpc.HandlingServiceServicer):
    def __init__(self, ctx):
        self.ctx = ctx

    async def GetCase(self, request, context):
        c = await run_use_case(context, handlers.find_case, self.ctx.uow(), request.report_id)
        return handling_pb2.CaseView(
            report_id=c.report_id,
            status=c.status,
            lead_agency_id=c.lead_agency_id,
            lead_unit_id=c.lead_unit_id,
            staff_subject=c.staff_subject,
            version=c.version,
            epoch=c.epoch,
        )


def register(ctx, server) -> None:
    handling_pb2_grpc.add_HandlingServiceServicer_to_server(HandlingServicer(ctx), server.server)
    server.add([handling_pb2.DESCRIPTOR.services_by_name["HandlingService"].full_name])
