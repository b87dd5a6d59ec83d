"""SyncService over gRPC."""
from __future__ import annotations

from paht.runtime.grpcx import run_use_case
from paht.sync.v1 import sync_pb2, sync_pb2_grpc
from services.sync.service_layer import handlers


class SyncServicer(sync_pb2_grpc.SyncServiceServicer):
    def __init__(self, ctx):
        self.ctx = ctx

    async def GetOwnership(self, request, context):
        own = await run_use_case(context, handlers.ownership_of, self.ctx.uow(), request.report_id)
        return sync_pb2.Ownership(report_id=own.report_id, node_id=own.node_id, epoch=own.epoch)


def register(ctx, server) -> None:
    sync_pb2_grpc.add_SyncServiceServicer_to_server(SyncServicer(ctx), server.server)
    server.add([sync_pb2.DESCRIPTOR.services_by_name["SyncService"].full_name])
