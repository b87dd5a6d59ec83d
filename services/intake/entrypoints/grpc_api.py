"""Intake's gRPC servicer: non-personal summaries, and audited release of a reporter's contact."""
from __future__ import annotations

from paht.intake.v1 import intake_pb2, intake_pb2_grpc
from paht.runtime.grpcx import run_use_case, staff_of
from services.intake.bootstrap import case_desk
from services.intake.service_layer import handlers, identity


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self, ctx):
        self.ctx = ctx

    async def GetReport(self, request, context):
        r = await run_use_case(context, handlers.get_report, self.ctx.uow(), request.report_id)
        reply = intake_pb2.ReportSummary(
            report_id=r.id,
            tracking_code=r.tracking_code,
            status=r.status,
            title=r.title,
            topic_code=r.topic_code,
            area_code=r.area_code,
            private_result=r.private_result,
            version=r.version,
        )
        if r.lat is not None:
            reply.location.lat, reply.location.lon = r.lat, r.lon
        reply.received_at.FromDatetime(r.received_at)
        return reply

    async def GetReporterContact(self, request, context):
        user = await staff_of(context, self.ctx.verifier)
        token = dict(context.invocation_metadata()).get("authorization", "").removeprefix("Bearer ").strip()
        reporter, audit_id = await run_use_case(context, handlers.contact_for, self.ctx.uow(), case_desk(self.ctx), user, token,
                                                request.report_id, request.purpose)
        return intake_pb2.ReporterContact(reporter_ref=reporter.id, name=reporter.name, phone=reporter.phone, email=reporter.email, audit_id=audit_id)

    async def WhoIsReporter(self, request, context):
        """The reporter_refs of the phone a reporter session proved (the `rpt_…` token in the `authorization` metadata)."""
        token = dict(context.invocation_metadata()).get("authorization", "").removeprefix("Bearer ").strip()
        refs, session = await run_use_case(context, identity.reporter_refs_of, self.ctx.engine, token)
        reply = intake_pb2.ReporterIdentity(reporter_refs=refs)
        reply.session_expires_at.FromDatetime(session.expires_at)
        return reply


def register(ctx, server) -> None:
    intake_pb2_grpc.add_IntakeServiceServicer_to_server(IntakeServicer(ctx), server.server)
    server.add([intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name])
