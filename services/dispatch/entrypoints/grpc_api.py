"""DirectoryService: other services resolve organisation units (with names in English, fields of competence and areas served),
topics (with their validity) and people here."""
from __future__ import annotations

import asyncio
from datetime import date

import grpc

from paht.dispatch.v1 import directory_pb2, directory_pb2_grpc
from paht.runtime.grpcx import run_use_case
from services.dispatch.service_layer import directory
from services.dispatch.service_layer.directory_publish import topic_proto
from services.dispatch.service_layer.directory_publish import unit_proto as _unit


class DirectoryServicer(directory_pb2_grpc.DirectoryServiceServicer):
    def __init__(self, ctx):
        self.ctx = ctx

    async def GetOrgUnit(self, request, context):
        unit = await run_use_case(context, directory.get_unit, self.ctx.uow(), request.id)
        if request.as_of:
            try:
                on = date.fromisoformat(request.as_of[:10])
            except ValueError:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "as_of must be a date (YYYY-MM-DD)")
            if not unit.in_force(on):
                await context.abort(grpc.StatusCode.NOT_FOUND, f"{unit.id} is not in force on {on.isoformat()}")
        return _unit(unit)

    async def ListChildren(self, request, context):
        try:
            as_of = date.fromisoformat(request.as_of[:10]) if request.as_of else None
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "as_of must be a date (YYYY-MM-DD)")
        # no parent: the top of the tree (the province), never the whole directory
        units = await asyncio.to_thread(directory.list_units, self.ctx.uow(), request.parent_id or None, as_of, False,
                                        not request.parent_id)
        return directory_pb2.ListChildrenResponse(units=[_unit(u) for u in units])

    async def ListTopics(self, request, context):
        topics = await asyncio.to_thread(directory.list_topics, self.ctx.uow())  # those in force today, with their validity
        return directory_pb2.ListTopicsResponse(topics=[topic_proto(t) for t in topics])


    async def GetPerson(self, request, context):
        person = await run_use_case(context, directory.get_person, self.ctx.uow(), request.subject)
        return directory_pb2.Person(**person)

    async def ListPeople(self, request, context):
        people = await asyncio.to_thread(directory.list_people, self.ctx.uow(), request.org_unit_id, request.role)
        return directory_pb2.ListPeopleResponse(people=[directory_pb2.Person(**p) for p in people])


def register(ctx, server) -> None:
    directory_pb2_grpc.add_DirectoryServiceServicer_to_server(DirectoryServicer(ctx), server.server)
    server.add([directory_pb2.DESCRIPTOR.services_by_name["DirectoryService"].full_name])
