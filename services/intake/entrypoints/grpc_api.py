"""Intake's gRPC servicer: non-personal summaries, and audited release of a reporter's contact."""
from __future__ import annotations

from paht.intake.v1 import intake_pb2, intake_pb2_grpc
from paht.runtime.errors import Unauthorized
from paht.runtime.grpcx import run_use_case, staff_of
from services.intake.bootstrap import case_desk, taxonomy_for
from services.intake.entrypoints.callers import hold_to_rate
from services.intake.service_layer import handlers, identity, partners, submission
from services.intake.service_layer.open311 import MEDIA_URL_NOTICE, open311_submission

OPEN311_FIELDS = ("service_code", "lat", "long", "address_string", "description", "email", "first_name", "last_name", "phone", "media_url",
                  "media_ids")


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self, ctx, taxonomy=None):
        self.ctx = ctx
        self.taxonomy = taxonomy if taxonomy is not None else taxonomy_for(ctx)
        self.desk = submission.desk(ctx.uow)

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

    async def SubmitOpen311Request(self, request, context):
        done = await run_use_case(context, self._submit_open311, request)
        r = done.report
        reply = intake_pb2.Open311Submitted(
            report_id=r.id, tracking_code=r.tracking_code, title=r.title, description=r.description, topic_code=r.topic_code,
            address_text=r.address_text, area_code=r.area_code, private_result=r.private_result, urgent=r.urgent, replayed=done.replayed,
            service_notice=MEDIA_URL_NOTICE if request.media_url.strip() else "",
        )
        if r.lat is not None:
            reply.location.lat, reply.location.lon = r.lat, r.lon
        reply.received_at.FromDatetime(r.received_at)
        return reply

    async def _submit_open311(self, request):
        """The partner channel's submission (services/intake/entrypoints/api.py) for an Open311 POST: the key checked and
        counted against the partner's rate, the fields mapped by service_layer/open311.py, written at the same desk."""
        import asyncio

        partner = await asyncio.to_thread(partners.partner_for_key, self.ctx.engine, request.api_key)
        if partner is None:
            raise Unauthorized("The api_key is missing, unknown or deactivated.", "Khóa api_key thiếu, không đúng hoặc đã bị vô hiệu hóa.")
        await asyncio.to_thread(hold_to_rate, self.ctx.engine, partner)
        form = {name: getattr(request, name) for name in OPEN311_FIELDS}
        prepared = submission.prepare(self.taxonomy, open311_submission(partner, form, request.idempotency_key))
        return await submission.write_together(self.desk, self.ctx.uow, prepared)


def register(ctx, server) -> None:
    intake_pb2_grpc.add_IntakeServiceServicer_to_server(IntakeServicer(ctx), server.server)
    server.add([intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name])
