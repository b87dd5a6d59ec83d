"""Wire publication: tables, migrations, HTTP routes, gRPC servicer, subscriptions. The one place that knows all the parts."""
from __future__ import annotations

from pathlib import Path

from paht.handling.v1 import events_pb2 as handling_ev
from paht.runtime import federation
from paht.runtime.app import make_app
from paht.runtime.events.consumer import Subscription
from paht.runtime.host import ServiceSpec
from services.publication.adapters.orm import event_tables, metadata
from services.publication.adapters import names
from services.publication.adapters.repositories import SqlFeedback, SqlPublicReports, SqlTimeline
from services.publication.service_layer import copies, feedback, read_model


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

    names = NamesCopy(ctx.engine)  # the taxonomy and area names the portal shows, one copy per process
    answers = PublicAnswers()  # the public reads' last answers (ETag, 304, max-age), one per process
    if federation.is_hub(ctx.settings):  # a hub's copy of its area: the district's statistics and reads, nothing written
        app = make_app(ctx, "PAHT publication (hub copy)",
                       "The district hub's read-only copy of the province's reports in its area: statistics and the public reads.")
        app.include_router(api.build_router(ctx, names, answers, editorial=False))
        app.include_router(stats_api.build_router(ctx, names))
        app.include_router(stats_pages.build_router(ctx, names))
        return app
    app = make_app(ctx, "PAHT publication", "The public record of every report, and step 8 of the procedure (IOC edits and publishes).")
    app.include_router(api.build_router(ctx, names, answers))
    app.include_router(open311.build_router(ctx, vars(ctx).get("open311_intake"), answers))  # tests may set ctx.open311_intake
    app.include_router(feedback_api.build_router(ctx, reporter_identity(ctx)))
    app.include_router(feedback_pages.build_router(ctx, reporter_identity(ctx), pages.pages))
    app.include_router(pages.build_router(ctx, names, answers))
    app.include_router(stats_api.build_router(ctx, names))  # statistics for the IOC and the Steering Committee
    app.include_router(stats_pages.build_router(ctx, names))
    return app


def register_grpc(ctx, server):
    from services.publication.entrypoints import grpc_api

    grpc_api.register(ctx, server)


def subscriptions(ctx) -> list[Subscription]:
    if federation.is_hub(ctx.settings):
        return hub_subscriptions(ctx)
    return [
        Subscription("intake", handlers=read_model.INTAKE, preload=read_model.preload),
        Subscription("dispatch", handlers={**read_model.DISPATCH, **names.COPIES}, preload=read_model.preload),
        Subscription("handling", handlers={**read_model.HANDLING, handling_ev.ClarificationGiven: feedback.on_clarification_given},
                     preload=read_model.preload),
    ]


def hub_subscriptions(ctx) -> list[Subscription]:
    """On a hub: its own cases' handling events, the copy the province sends (its own stream), and the names of the
    province's directory and taxonomy from the node's inbound stream (nothing else of it: that is handling's)."""
    node = ctx.settings.node_id
    copies_stream, copies_subjects = federation.copies_stream(node)
    inbound, _ = federation.inbound_stream(node)
    # of the inbound stream, only the names' events (the server filters: the rest is handling's, and never read here)
    parent = ctx.settings.parent_node
    inbound_subjects = tuple(federation.inbound_subject(node, parent, "dispatch", k.DESCRIPTOR.full_name) for k in names.COPIES)
    return [
        Subscription("handling", handlers=read_model.HANDLING, preload=read_model.preload),
        Subscription("copies", handlers=copies.HANDLERS, preload=read_model.preload, stream=copies_stream, subjects=copies_subjects,
                     durable="publication-copies", batch=500),
        Subscription("inbound", handlers=names.COPIES, stream=inbound, subjects=inbound_subjects, durable="publication-inbound"),
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
