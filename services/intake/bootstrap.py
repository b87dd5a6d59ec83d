"""Wire intake: tables, migrations, repositories, the taxonomy, HTTP routes, gRPC servicer. The one place that knows all the parts."""
from __future__ import annotations

from pathlib import Path

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.runtime.app import make_app
from paht.runtime.events.consumer import Subscription
from paht.runtime.host import ServiceSpec
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


async def expire_timers(ctx):
    """The step-1 2-day timers: cancel reports not edited, or whose reporter was not reached, in time."""
    from services.intake.entrypoints import timer_job

    await timer_job.run_timers(ctx)


async def sweep_media(ctx):
    from services.intake.entrypoints import media_sweeper

    await media_sweeper.run_sweeper(ctx, media_storage(ctx))


def build_http(ctx, taxonomy=None):
    """Build intake's app; `taxonomy` replaces intake's copy (tests give a fake)."""
    from paht.runtime.sms import sms_from
    from services.intake.adapters.identity import otp_key
    from services.intake.domain.identity import SendLimits
    from services.intake.entrypoints import api, media_api, my_api, pages, reporter_api, triage_api
    from services.intake.service_layer import identity
    from services.intake.service_layer.triage import sms_port

    taxonomy = taxonomy if taxonomy is not None else taxonomy_for(ctx)
    app = make_app(ctx, "PAHT intake", "Receive field reports from every channel; step 1 of the procedure (IOC check).")
    app.include_router(api.build_router(ctx, taxonomy))
    # one SMS gateway and one code desk per process, shared by the API and the pages
    sms = sms_from(ctx.settings)
    otp = identity.Otp(ctx.engine, otp_key(ctx.settings), sms, SendLimits.from_settings(ctx.settings))
    notify = sms_port(sms)
    app.include_router(triage_api.build_router(ctx, taxonomy, notify=notify))
    app.include_router(my_api.build_router(ctx, taxonomy))
    app.include_router(reporter_api.build_router(ctx, otp=otp))
    app.include_router(media_api.build_router(ctx, media_storage(ctx), vars(ctx).get("media_spool")))  # spool: tests set one
    app.include_router(pages.build_router(ctx, taxonomy, otp=otp, notify=notify, storage=media_storage(ctx)))
    return app


def subscriptions(ctx):
    from services.intake.adapters.taxonomy import on_taxonomy_published

    return [Subscription("dispatch", {dispatch_ev.TaxonomyPublished: on_taxonomy_published})]


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
    repositories={"reports": SqlReports, "reporters": SqlReporters},
    background_local={"media sweeper": sweep_media, "step-1 timers": expire_timers},
)
