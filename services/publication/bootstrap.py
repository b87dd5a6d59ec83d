"""Wire publication: tables, migrations, HTTP routes, gRPC servicer, subscriptions. The one place that knows all the parts."""
from __future__ import annotations

from pathlib import Path

from paht.handling.v1 import events_pb2 as handling_ev
from paht.runtime.app import make_app
from paht.runtime.events.consumer import Subscription
from paht.runtime.host import ServiceSpec
from services.publication.adapters.orm import event_tables, metadata
from services.publication.adapters import names
from services.publication.adapters.repositories import SqlFeedback, SqlPublicReports, SqlTimeline
from services.publication.service_layer import feedback, read_model


def reporter_identity(ctx):
    """Who a reporter session stands for, asked of intake over gRPC (tests may set ctx.reporter_identity)."""
    who = vars(ctx).get("reporter_identity")
    if who is None:
        from services.publication.adapters.reporters import GrpcReporterIdentity

        who = ctx.reporter_identity = GrpcReporterIdentity(lambda: ctx.channel("intake"), ctx.settings.grpc_timeout_s)
    return who


def build_http(ctx):
    from services.publication.adapters.names import NamesCopy
    from services.publication.entrypoints import api, feedback_api, feedback_pages, open311, pages, stats_api, stats_pages
    from services.publication.entrypoints.cached import PublicAnswers

    app = make_app(ctx, "PAHT publication", "The public record of every report, and step 8 of the procedure (IOC edits and publishes).")
    names = NamesCopy(ctx.engine)  # the taxonomy and area names the portal shows, one copy per process
    answers = PublicAnswers()  # the public reads' last answers (ETag, 304, max-age), one per process
    app.include_router(api.build_router(ctx, names, answers))
    app.include_router(open311.build_router(ctx, vars(ctx).get("open311_intake"), answers))  # tests may set ctx.open311_intake
    app.include_router(feedback_api.build_router(ctx, reporter_identity(ctx)))
    app.include_router(feedback_pages.build_router(ctx, reporter_identity(ctx), pages.pages))
    app.include_router(pages.build_router(ctx, names))
    app.include_router(stats_api.build_router(ctx, names))  # statistics for the IOC and the Steering Committee
    app.include_router(stats_pages.build_router(ctx, names))
    return app


def register_grpc(ctx, server):
    from services.publication.entrypoints import grpc_api

    grpc_api.register(ctx, server)


def subscriptions(ctx) -> list[Subscription]:
    return [
        Subscription("intake", handlers=read_model.INTAKE, preload=read_model.preload),
        Subscription("dispatch", handlers={**read_model.DISPATCH, **names.COPIES}, preload=read_model.preload),
        Subscription("handling", handlers={**read_model.HANDLING, handling_ev.ClarificationGiven: feedback.on_clarification_given},
                     preload=read_model.preload),
    ]


SPEC = ServiceSpec(
    name="publication",
    metadata=metadata,
    event_tables=event_tables,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    build_http=build_http,
    register_grpc=register_grpc,
    subscriptions=subscriptions,
    repositories={"reports": SqlPublicReports, "timeline": SqlTimeline, "feedback": SqlFeedback},
)
