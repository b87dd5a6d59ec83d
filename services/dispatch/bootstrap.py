"""Wire dispatch: tables, repositories, migrations, HTTP (API + sign-in), the directory over gRPC, subscriptions,
the publisher of revoked tokens, demo seed."""
from __future__ import annotations

from pathlib import Path

from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.app import make_app
from paht.runtime import federation
from paht.runtime.events.consumer import Subscription, chain
from paht.runtime.host import ServiceSpec
from services.dispatch.adapters import repositories, repositories_clocks, repositories_emergency, repositories_step2
from services.dispatch.adapters.schema import event_tables, load_all

REPOSITORIES = {**repositories.REPOSITORIES, **repositories_step2.REPOSITORIES, **repositories_emergency.REPOSITORIES,
                **repositories_clocks.REPOSITORIES}


def build_http(ctx):
    from services.dispatch.entrypoints import admin_api, api, auth, console, emergency_api, sla_api

    app = make_app(ctx, "PAHT dispatch", "Step 2 (dispatch to one lead agency), deadlines, the organisation directory and staff sign-in.")
    app.include_router(api.build_router(ctx))
    app.include_router(auth.build_router(ctx))
    app.include_router(admin_api.build_router(ctx))
    app.include_router(emergency_api.build_router(ctx))
    app.include_router(console.build_router(ctx))
    app.include_router(sla_api.build_router(ctx))
    return app


def register_grpc(ctx, server):
    from services.dispatch.entrypoints import grpc_api

    grpc_api.register(ctx, server)


def subscriptions(ctx):
    from services.dispatch.service_layer import clocks, handlers

    if federation.is_hub(ctx.settings):
        return []  # on a hub, dispatch only signs its people in and keeps the directory: the province dispatches and keeps the clocks
    # Step 2's own work, then the SLA clocks every service's events open and stop (dispatch owns every deadline).
    return [
        Subscription("intake", {**clocks.INTAKE, intake_ev.ReportAccepted: chain(handlers.on_report_accepted, clocks.on_report_accepted),
                                intake_ev.ReportClassified: handlers.on_report_classified}),
        Subscription("dispatch", clocks.DISPATCH),
        Subscription("handling", {**clocks.HANDLING,
                                  handling_ev.CaseRefusedByAgency: chain(handlers.on_case_refused_by_agency, clocks.on_case_refused_by_agency)}),
        Subscription("publication", clocks.PUBLICATION),
    ]


async def watch_emergencies(ctx):
    from services.dispatch.entrypoints import emergency_watch

    await emergency_watch.watch_acknowledgements(ctx)


async def monitor_clocks(ctx):
    from services.dispatch.entrypoints import sla_monitor

    await sla_monitor.run_monitor(ctx)


async def publish_revocations(ctx, js):
    from services.dispatch.entrypoints import revocations

    await revocations.publish_revocations(ctx, js)


def seed(ctx):
    from services.dispatch.service_layer import business_calendar, directory

    counts = directory.seed_demo(ctx.uow(), ctx.settings.demo_password)
    counts["calendar"] = business_calendar.seed(ctx.uow())
    return counts


SPEC = ServiceSpec(
    name="dispatch",
    metadata=load_all(),
    event_tables=event_tables,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    build_http=build_http,
    register_grpc=register_grpc,
    subscriptions=subscriptions,
    seed=seed,
    repositories=REPOSITORIES,
    background={"revocation publisher": publish_revocations},
    # Neither needs NATS: a forward to 113/114/115 and a deadline's notice must not wait for the broker.
    background_local={"emergency watch": watch_emergencies, "SLA monitor": monitor_clocks},
)
