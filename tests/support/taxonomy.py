"""A taxonomy for tests: a few topics with their groups, in memory, behind intake's Taxonomy port."""
from __future__ import annotations

from paht.runtime.errors import Unavailable
from services.intake.domain.taxonomy import Topic

TOPICS = (
    Topic("traffic-safety", "Trật tự, an toàn giao thông", "security", "An ninh trật tự, an toàn giao thông"),
    Topic("trat-tu-giao-thong", "Trật tự giao thông", "an-ninh", "An ninh"),
    Topic("road-damage", "Hư hỏng đường giao thông", "infrastructure", "Hạ tầng giao thông"),
    Topic("waste-dumping", "Đổ rác thải không đúng nơi quy định", "environment", "Môi trường"),
    Topic("any-topic", "Lĩnh vực bất kỳ", "any-group", "Nhóm bất kỳ"),
)


class FakeTaxonomy:
    """Answers from a fixed list; `unavailable=True` behaves like dispatch away with no copy (503)."""

    def __init__(self, topics=TOPICS, unavailable: bool = False):
        self.topics = {t.code: t for t in topics}
        self.unavailable = unavailable
        self.lookups: list[str] = []

    def find(self, code: str) -> Topic | None:
        self.lookups.append(code)
        if self.unavailable:
            raise Unavailable("Topics cannot be checked now.", "Chưa thể kiểm tra lĩnh vực.")
        return self.topics.get(code)


class FakeDirectory:
    """dispatch's DirectoryService.ListTopics on a real gRPC port, serving TOPICS; stop() is dispatch going away."""

    def __init__(self, topics=TOPICS, port: int = 0):
        import grpc
        from concurrent import futures

        from paht.dispatch.v1 import directory_pb2, directory_pb2_grpc

        class Servicer(directory_pb2_grpc.DirectoryServiceServicer):
            def ListTopics(self, request, context):
                return directory_pb2.ListTopicsResponse(topics=[
                    directory_pb2.Topic(code=t.code, name=t.name, group_code=t.group_code, group_name=t.group_name) for t in topics])

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        directory_pb2_grpc.add_DirectoryServiceServicer_to_server(Servicer(), self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        self.address = f"127.0.0.1:{self.port}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(0).wait()
