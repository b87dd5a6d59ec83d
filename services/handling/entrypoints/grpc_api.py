"""Handling's gRPC servicer: where a case stands, and whether a person handles it, for other services (no personal data)."""
from __future__ import annotations

from paht.handling.v1 import handling_pb2, handling_pb2_grpc
from paht.runtime.grpcx import run_use_case, staff_of
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

    async def GetCaseAccess(self, request, context):
        user = await staff_of(context, self.ctx.verifier)
        case = await run_use_case(context, handlers.case_handled_by, self.ctx.uow(), user, request.report_id)
        return handling_pb2.CaseAccess(report_id=request.report_id, handles=case is not None,
                                       lead_unit_id=case.lead_unit_id if case else "")


def register(ctx, server) -> None:
    handling_pb2_grpc.add_HandlingServiceServicer_to_server(HandlingServicer(ctx), server.server)
    server.add([handling_pb2.DESCRIPTOR.services_by_name["HandlingService"].full_name])
