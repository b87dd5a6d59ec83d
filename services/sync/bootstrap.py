"""Wire sync: ownership table, migrations, HTTP (the API and the operators' page), gRPC, and the subscription to dispatch decisions."""
from __future__ import annotations

from pathlib import Path

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.runtime.app import make_app
from paht.runtime import federation
from paht.runtime.events.consumer import ANY, Subscription, chain
from paht.runtime.events.envelope import stream_for
from paht.runtime.host import ServiceSpec
from services.sync.adapters.orm import event_tables, metadata
from services.sync.adapters.repositories import SqlOwnerships


def build_http(ctx):
    from services.sync.entrypoints import api, join, pages

    app = make_app(ctx, "PAHT sync", "Federation between the province node and hub nodes: ownership epochs and sync status.")
    app.include_router(api.build_router(ctx))
    app.include_router(join.build_router(ctx))
    app.include_router(pages.build_router(ctx))  # the operators' page, /sync/
    return app


def register_grpc(ctx, server):
    from services.sync.entrypoints import grpc_api

    grpc_api.register(ctx, server)


def subscriptions(ctx):
    from services.sync.service_layer import border, handlers

    settings = ctx.settings
    node = settings.node_id
    subs = []
    if not federation.is_hub(settings):
        def passed_on(service: str) -> dict:  # what goes to an owning hub and what to the hubs' copies
            return {t: border.pass_on_to_hubs for t in (*border.FORWARDED.get(service, ()), *border.COPIED.get(service, ()))}

        subs += [
            Subscription("dispatch", {**passed_on("dispatch"),
                                      dispatch_ev.ReportDispatched: chain(handlers.on_report_dispatched, border.pass_on_to_hubs),
                                      dispatch_ev.ReportRecalled: handlers.on_report_recalled,
                                      dispatch_ev.ReportPlaced: border.on_report_placed,
                                      **{t: border.on_reference_published for t in border.REFERENCE}}, preload=border.preload_copies),
            Subscription("publication", passed_on("publication"), preload=border.preload_copies),
        ]
        if federation.hubs(settings):  # only for the hubs' copies: a province alone need not read them
            subs += [Subscription("intake", passed_on("intake"), preload=border.preload_copies),
                     Subscription("handling", passed_on("handling"), preload=border.preload_copies)]
    # The border: one durable consumer on each peer's stream of what this node takes from it (it lives on the peer's
    # server, so it keeps its place through a partition); a peer out of reach does not make this service unready.
    for peer in federation.peers(settings):
        if federation.is_hub(settings):
            stream, subjects = stream_for(peer, federation.outbound_service(node))
        else:
            stream, subjects = stream_for(peer, "handling")
        subs.append(Subscription(f"{peer}-border", {ANY: border.let_in}, stream=stream, subjects=subjects,
                                 durable=federation.border_durable(node), domain=peer, ack_wait_s=5.0, required=False, batch=500,
                                 preload=border.preload_for(peer, province=not federation.is_hub(settings))))
    return subs


async def watch_links(ctx, js):
    from services.sync.service_layer import links

    if federation.is_federated(ctx.settings):
        await links.watch(ctx, js)
    else:
        import asyncio

        await asyncio.Event().wait()  # a node alone has no links


async def reference_for_new_hubs(ctx):
    """Once at start: a hub declared since the reference data was last published gets its latest revisions."""
    import asyncio

    from services.sync.service_layer import border

    if federation.hubs(ctx.settings):
        def send():
            with ctx.uow() as uow:
                hubs = border.send_reference_to_new_hubs(uow)
                uow.commit()
            return hubs

        sent = await asyncio.to_thread(send)
        if sent:
            import logging

            logging.getLogger(__name__).info("sent the latest reference data to hub(s) %s", ", ".join(sent))
    await asyncio.Event().wait()


SPEC = ServiceSpec(
    name="sync",
    metadata=metadata,
    event_tables=event_tables,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    build_http=build_http,
    register_grpc=register_grpc,
    subscriptions=subscriptions,
    repositories={"ownerships": SqlOwnerships},
    background={"federation links": watch_links},
    background_local={"reference data for new hubs": reference_for_new_hubs},
)
