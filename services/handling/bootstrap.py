"""Wire handling: tables, migrations, HTTP routes, gRPC servicer, subscriptions. The one place that knows all the parts."""
from __future__ import annotations

from pathlib import Path

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.sync.v1 import events_pb2 as sync_ev
from paht.runtime.app import make_app
from paht.runtime import federation
from paht.runtime.events.consumer import Subscription
from paht.runtime.host import ServiceSpec
from services.handling.adapters.orm import event_tables, metadata
from services.handling.adapters.repositories import SqlCaseHistory, SqlCaseRepository, SqlSupportRequests


def media_storage(ctx):
    """The storage of attachments: the media storage of the settings (as intake's, under the key prefix handling/),
    made once per process."""
    storage = vars(ctx).get("media_storage")
    if storage is None:
        from paht.runtime.storage import storage_from

        storage = ctx.media_storage = storage_from(ctx.settings)
    return storage


def reporter_contacts(ctx):
    """Intake's audited release of a reporter's contact, over gRPC (tests may set ctx.reporter_contacts)."""
    contacts = vars(ctx).get("reporter_contacts")
    if contacts is None and federation.is_hub(ctx.settings):
        from services.handling.adapters.contacts import ContactsKeptAtTheProvince, ContactsThroughTheProvince

        s = ctx.settings
        joined = bool(s.parent_url and s.join_secret_file)  # the province's intake, asked over HTTP with the hub's secret
        contacts = ctx.reporter_contacts = ContactsThroughTheProvince(s, ctx.verifier) if joined else ContactsKeptAtTheProvince()
    if contacts is None:
        from services.handling.adapters.contacts import GrpcReporterContacts

        contacts = ctx.reporter_contacts = GrpcReporterContacts(lambda: ctx.channel("intake"), ctx.settings.grpc_timeout_s)
    return contacts


async def copy_report_files(ctx):
    """On a hub: copy the files of the reports it owns from the province (services/handling/service_layer/report_files.py)."""
    import asyncio

    from services.handling.service_layer import report_files

    settings = ctx.settings
    if not (federation.is_hub(settings) and settings.parent_url and settings.join_secret_file):
        await asyncio.Event().wait()  # a province, or a hub not started by a join: nothing to copy
    fetch = report_files.http_fetcher(settings)
    while True:
        tried = await asyncio.to_thread(report_files.copy_due, ctx.engine, media_storage(ctx), fetch)
        await asyncio.sleep(0.5 if tried else 2.0)


async def sweep_files(ctx):
    from services.handling.entrypoints import file_sweeper

    await file_sweeper.run_sweeper(ctx, media_storage(ctx))


def build_http(ctx, directory=None):
    """Build the app; the organisation directory is handling's copy of the units, with people from dispatch over
    gRPC, unless one is given (tests: a fake)."""
    from paht.runtime.web.forms import include_pages
    from services.handling.adapters.directory import CopiedOrgDirectory, GrpcOrgDirectory
    from services.handling.entrypoints import api, pages

    if directory is None:
        directory = CopiedOrgDirectory(ctx.engine, GrpcOrgDirectory(lambda: ctx.channel("dispatch"), ctx.settings.grpc_timeout_s))
    app = make_app(ctx, "PAHT handling", "Cases at the lead agency, lead unit and staff: steps 3 to 7 of the procedure.")
    app.include_router(api.build_router(ctx, directory, media_storage(ctx), vars(ctx).get("media_spool"),  # spool: tests set one
                                        reporter_contacts(ctx)))
    include_pages(app, pages.build_router(ctx, directory, media_storage(ctx), vars(ctx).get("media_spool"),  # forms over the limit
                                          reporter_contacts(ctx)))
    return app


def register_grpc(ctx, server):
    from services.handling.entrypoints import grpc_api

    grpc_api.register(ctx, server)


def subscriptions(ctx) -> list[Subscription]:
    from services.handling.service_layer import handlers

    from services.handling.adapters.calendar import on_calendar_published
    from services.handling.adapters.directory import on_directory_published

    return [
        Subscription("dispatch", {dispatch_ev.ReportDispatched: handlers.open_case_on_dispatch,
                                  dispatch_ev.ReportReclassified: handlers.reclassify,
                                  dispatch_ev.ReportRecalled: handlers.on_report_recalled,
                                  dispatch_ev.CalendarPublished: on_calendar_published,
                                  dispatch_ev.DirectoryPublished: on_directory_published,
                                  dispatch_ev.SlaWarning: handlers.note_sla_announcement,
                                  dispatch_ev.SlaBreached: handlers.note_sla_announcement}, preload=handlers.preload),
        Subscription("publication", {publication_ev.PublicationReturned: handlers.reopen_on_return_by_ioc,
                                     publication_ev.ClarificationRequested: handlers.open_clarification,
                                     publication_ev.ClarificationSentBack: handlers.clarification_back_from_ioc,
                                     publication_ev.ReportRated: handlers.take_rating}, preload=handlers.preload),
        Subscription("sync", {sync_ev.OwnershipRecalled: handlers.on_ownership_recalled}, preload=handlers.preload),
    ]


SPEC = ServiceSpec(
    name="handling",
    metadata=metadata,
    event_tables=event_tables,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    build_http=build_http,
    register_grpc=register_grpc,
    subscriptions=subscriptions,
    repositories={"cases": SqlCaseRepository, "history": SqlCaseHistory, "support": SqlSupportRequests},
    background_local={"case file sweeper": sweep_files, "report files from the province": copy_report_files},
)
