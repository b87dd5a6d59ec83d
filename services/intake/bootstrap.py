"""Wire intake: tables, migrations, repositories, the taxonomy, HTTP routes, gRPC servicer. The one place that knows all the parts."""
from __future__ import annotations

from pathlib import Path

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.runtime.app import make_app
from paht.runtime.events.consumer import Subscription
from paht.runtime.host import ServiceSpec
from services.intake.adapters.notices import SqlNotices
from services.intake.adapters.orm import event_tables, metadata
from services.intake.adapters.repositories import SqlReporters, SqlReports


def taxonomy_for(ctx):
    """Return the taxonomy: intake's own copy, kept current by dispatch's TaxonomyPublished events."""
    from services.intake.adapters.taxonomy import TaxonomyCopy

    return TaxonomyCopy(ctx.engine)


def media_storage(ctx):
    """The media storage: made once per process from the settings (one S3 client shared by every request and the sweeper)."""
    storage = vars(ctx).get("media_storage")
    if storage is None:
        from paht.runtime.storage import storage_from

        storage = ctx.media_storage = storage_from(ctx.settings)
    return storage


def case_desk(ctx):
    """Who handles a report's case, asked of handling over gRPC (tests may set ctx.case_desk)."""
    desk = vars(ctx).get("case_desk")
    if desk is None:
        from services.intake.adapters.cases import GrpcCaseDesk

        desk = ctx.case_desk = GrpcCaseDesk(lambda: ctx.channel("handling"), ctx.settings.grpc_timeout_s)
    return desk


def owners(ctx):
    """Which node owns a report's handling, asked of sync over gRPC (tests may set ctx.owners)."""
    found = vars(ctx).get("owners")
    if found is None:
        from services.intake.adapters.ownership import GrpcOwners

        found = ctx.owners = GrpcOwners(lambda: ctx.channel("sync"), ctx.settings.grpc_timeout_s)
    return found


def notice_ports(ctx):
    """The gateways reporters' notices go through, made once per process from the settings (tests may set
    ctx.notice_ports): SMS, e-mail and Web Push, each the real adapter when configured, else the development outbox
    (refusing in production)."""
    ports = vars(ctx).get("notice_ports")
    if ports is None:
        from paht.runtime.mail import email_from
        from paht.runtime.sms import sms_from
        from paht.runtime.webpush import push_from
        from services.intake.service_layer.notices import Ports

        ports = ctx.notice_ports = Ports(sms=sms_from(ctx.settings), email=email_from(ctx.settings), push=push_from(ctx.settings))
    return ports


async def send_notices(ctx):
    """Reporters' notices: claimed, sent and recorded in the background, each by one replica."""
    from services.intake.entrypoints import notice_sender

    await notice_sender.run_sender(ctx, notice_ports(ctx))


async def expire_timers(ctx):
    """The step-1 2-day timers: cancel reports not edited, or whose reporter was not reached, in time."""
    from services.intake.entrypoints import timer_job

    await timer_job.run_timers(ctx)


async def sweep_media(ctx):
    from services.intake.entrypoints import media_sweeper

    await media_sweeper.run_sweeper(ctx, media_storage(ctx))


def build_http(ctx, taxonomy=None):
    """Build intake's app; `taxonomy` replaces intake's copy (tests give a fake)."""
    from services.intake.adapters.identity import otp_key
    from services.intake.domain.identity import SendLimits
    from services.intake.entrypoints import api, federation_api, media_api, my_api, pages, reporter_api, triage_api
    from services.intake.service_layer import identity

    taxonomy = taxonomy if taxonomy is not None else taxonomy_for(ctx)
    app = make_app(ctx, "PAHT intake", "Receive field reports from every channel; step 1 of the procedure (IOC check).")
    app.include_router(api.build_router(ctx, taxonomy))
    # one SMS gateway and one code desk per process, shared by the API, the pages and the notices' sender
    ports = notice_ports(ctx)
    otp = identity.Otp(ctx.engine, otp_key(ctx.settings), ports.sms, SendLimits.from_settings(ctx.settings))
    app.include_router(triage_api.build_router(ctx, taxonomy))
    app.include_router(my_api.build_router(ctx, taxonomy, push_key=ports.push.public_key))
    app.include_router(reporter_api.build_router(ctx, otp=otp))
    app.include_router(media_api.build_router(ctx, media_storage(ctx), vars(ctx).get("media_spool")))  # spool: tests set one
    app.include_router(federation_api.build_router(ctx))  # what a hub asks for a case it owns: the reporter's contact
    app.include_router(pages.build_router(ctx, taxonomy, otp=otp, push_key=ports.push.public_key, storage=media_storage(ctx)))
    return app


def subscriptions(ctx):
    """dispatch's taxonomy (intake's copy), and the events of the other services that the reporter is told of
    (service_layer/notices.py: intake's own changes are told by the use cases themselves)."""
    from services.intake.adapters.taxonomy import on_taxonomy_published
    from services.intake.service_layer.notices import SUBSCRIPTIONS

    return [Subscription("dispatch", {dispatch_ev.TaxonomyPublished: on_taxonomy_published, **SUBSCRIPTIONS["dispatch"]}),
            Subscription("handling", SUBSCRIPTIONS["handling"]),
            Subscription("publication", SUBSCRIPTIONS["publication"])]


def register_grpc(ctx, server):
    from services.intake.entrypoints import grpc_api

    grpc_api.register(ctx, server)


def seed(ctx):
    """Demo data of the embedded run: a partner app with a published api_key for Open311 clients (not in production)."""
    from services.intake.service_layer import partners

    return {"partner apps": partners.seed_demo(ctx.engine, ctx.settings.demo_password)}


SPEC = ServiceSpec(
    name="intake",
    metadata=metadata,
    event_tables=event_tables,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    build_http=build_http,
    register_grpc=register_grpc,
    subscriptions=subscriptions,
    seed=seed,
    repositories={"reports": SqlReports, "reporters": SqlReporters, "notices": SqlNotices},
    background_local={"media sweeper": sweep_media, "step-1 timers": expire_timers, "reporter notices": send_notices},
)
