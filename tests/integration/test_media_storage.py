"""One contract for every blob storage: the local disk of the embedded run, and S3Storage against a real S3 server
(moto's, in its own process-like thread on a free port, spoken to over HTTP by boto3 exactly as MinIO would be)."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from paht.runtime.storage import BlobMissing, LocalDiskStorage, S3Storage, check_key, max_upload_bytes, storage_from
from paht.runtime.supervisor import free_port
from tests.support.services import test_settings as settings_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3_endpoint():
    """A real S3 server (moto) listening on 127.0.0.1, with one bucket."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    yield url
    server.stop()


def s3_storage(endpoint: str, bucket: str) -> S3Storage:
    storage = S3Storage(bucket, endpoint_url=endpoint, region="ap-southeast-1", access_key="test", secret_key="test")
    try:
        storage.client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"})
    except storage.client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return storage


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalDiskStorage(tmp_path / "media")
    return s3_storage(request.getfixturevalue("s3_endpoint"), "paht-" + os.urandom(4).hex())


def a_file(tmp_path: Path, data: bytes, name: str = "source") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_stored_file_reads_back_whole_and_the_source_stays(storage, tmp_path):
    data = os.urandom(300_000)  # several chunks
    source = a_file(tmp_path, data)
    storage.put_file("reports/abc/original", source, "image/jpeg")
    assert source.read_bytes() == data
    assert storage.exists("reports/abc/original")
    assert storage.size("reports/abc/original") == len(data)
    assert b"".join(storage.stream("reports/abc/original", 65536)) == data
    with storage.open("reports/abc/original") as handle:
        assert handle.read() == data


def test_a_byte_range_reads_only_that_part(storage, tmp_path):
    data = os.urandom(200_000)
    storage.put_file("reports/r/public", a_file(tmp_path, data), "video/mp4")
    assert b"".join(storage.stream("reports/r/public", 1000, 100, 250)) == data[100:350]
    assert b"".join(storage.stream("reports/r/public", 65536, 150_000)) == data[150_000:]
    assert b"".join(storage.stream("reports/r/public", 65536, 199_990, 10)) == data[-10:]
    assert b"".join(storage.stream("reports/r/public", 65536, 5, 0)) == b""
    with pytest.raises(BlobMissing):
        storage.stream("reports/none/public", 65536, 5, 0)


def test_putting_again_replaces_the_blob(storage, tmp_path):
    storage.put_file("reports/x/public", a_file(tmp_path, b"first version"), "image/jpeg")
    storage.put_file("reports/x/public", a_file(tmp_path, b"second", "other"), "image/jpeg")
    assert b"".join(storage.stream("reports/x/public")) == b"second" and storage.size("reports/x/public") == 6


def test_a_missing_key_is_blob_missing_and_delete_is_idempotent(storage, tmp_path):
    assert not storage.exists("reports/none/original")
    with pytest.raises(BlobMissing):
        storage.size("reports/none/original")
    with pytest.raises(BlobMissing):
        storage.stream("reports/none/original")
    with pytest.raises(BlobMissing):
        storage.open("reports/none/original")
    storage.delete("reports/none/original")  # nothing there: nothing happens
    storage.put_file("reports/gone/original", a_file(tmp_path, b"data"), "video/mp4")
    storage.delete("reports/gone/original")
    assert not storage.exists("reports/gone/original")
    storage.delete("reports/gone/original")


@pytest.mark.parametrize("key", ["../etc/passwd", "/etc/passwd", "reports/../../x", "reports//x", "reports/./x", ".hidden",
                                 "reports\\..\\x", "", "reports/x/", "a" * 201, "reports/x\x00y", "reports/ảnh"])
def test_keys_that_could_name_anything_outside_the_storage_are_refused(storage, tmp_path, key):
    source = a_file(tmp_path, b"data")
    for call in (lambda: storage.put_file(key, source, "image/jpeg"), lambda: storage.exists(key), lambda: storage.delete(key),
                 lambda: storage.size(key), lambda: storage.open(key)):
        with pytest.raises(ValueError):
            call()


def test_the_local_disk_never_leaves_a_part_file_and_cleans_empty_folders(tmp_path):
    storage = LocalDiskStorage(tmp_path / "media")
    storage.put_file("reports/r1/original", a_file(tmp_path, b"x" * 1000), "image/png")
    assert [p.name for p in (tmp_path / "media" / "reports" / "r1").iterdir()] == ["original"]

    broken = tmp_path / "folder-not-file"  # a source that cannot be read, once the temporary file exists
    broken.mkdir()
    with pytest.raises(OSError):
        storage.put_file("reports/r2/original", broken, "image/png")
    assert not storage.exists("reports/r2/original")
    assert list((tmp_path / "media" / "reports" / "r2").iterdir()) == []  # the temporary file is gone too
    storage.delete("reports/r1/original")
    assert not (tmp_path / "media" / "reports" / "r1").exists() and (tmp_path / "media").is_dir()


def test_the_local_disk_does_not_follow_a_planted_link_out_of_its_root(tmp_path):
    storage = LocalDiskStorage(tmp_path / "media")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    (tmp_path / "media" / "reports").mkdir()
    (tmp_path / "media" / "reports" / "evil").symlink_to(outside)
    with pytest.raises(ValueError):
        storage.open("reports/evil/secret")


def test_concurrent_writers_of_one_key_leave_one_whole_version(storage, tmp_path):
    versions = [bytes([i]) * 200_000 for i in range(6)]
    sources = [a_file(tmp_path, v, f"v{i}") for i, v in enumerate(versions)]
    threads = [threading.Thread(target=storage.put_file, args=("reports/race/original", s, "image/jpeg")) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b"".join(storage.stream("reports/race/original")) in versions


def test_the_settings_choose_the_storage(tmp_path, s3_endpoint):
    local = storage_from(settings_for(tmp_path))
    assert isinstance(local, LocalDiskStorage) and local.root == (tmp_path / "media").resolve()
    with pytest.raises(ValueError, match="PAHT_S3_BUCKET"):
        storage_from(settings_for(tmp_path, media_storage="s3"))
    s3_storage(s3_endpoint, "paht-settings")
    remote = storage_from(settings_for(tmp_path, media_storage="s3", s3_bucket="paht-settings", s3_endpoint_url=s3_endpoint,
                                        s3_region="ap-southeast-1", s3_access_key="test", s3_secret_key="test"))
    assert isinstance(remote, S3Storage)
    remote.put_file("reports/s/original", a_file(tmp_path, b"via settings"), "video/webm")
    head = remote.client.head_object(Bucket="paht-settings", Key="reports/s/original")
    assert head["ContentType"] == "video/webm" and head["ContentLength"] == 12
    assert max_upload_bytes(settings_for(tmp_path)) == 50_000_000


def test_check_key_accepts_the_keys_media_use():
    assert check_key("reports/0190a6b2-7c1e-7000-8000-000000000001/original") == "reports/0190a6b2-7c1e-7000-8000-000000000001/original"
