"""The nats-server configs `paht up` writes for a federated node: accepted by nats-server, and (with two real servers)
the leaf link lets exactly the two borders' pull traffic across."""
from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from paht.runtime import federation_up as fed
from paht.runtime.supervisor import free_port, nats_server_binary


def write_both(tmp: Path, leaf_port: int | None = None) -> tuple[Path, Path, dict]:
    province, hub = tmp / "province", tmp / "hub"
    p_ports, h_ports = fed.NatsPorts(free_port(), free_port()), fed.NatsPorts(free_port(), free_port())
    leaf_port = leaf_port or free_port()
    p_conf = fed.write_conf(province, fed.province_conf("province", province, p_ports, f"127.0.0.1:{leaf_port}", ["donghoi", "dongson"]))
    h_conf = fed.write_conf(hub, fed.hub_conf("donghoi", hub, h_ports, f"nats-leaf://127.0.0.1:{leaf_port}", "donghoi",
                                              fed.secret(fed.hub_secret_path(province, "donghoi"))))
    return p_conf, h_conf, {"province": (province, p_ports), "hub": (hub, h_ports)}


def test_both_configs_pass_nats_server_config_check_and_are_private(tmp_path):
    p_conf, h_conf, _ = write_both(tmp_path)
    for conf in (p_conf, h_conf):
        result = subprocess.run([nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr + result.stdout
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "province" / "federation" / "donghoi.secret").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "province" / "federation").stat().st_mode) == 0o700


def test_permissions_never_let_a_paht_subject_or_another_hubs_stream_across():
    publish, subscribe = fed.hub_permissions("donghoi")
    for subject, _why in publish + subscribe:
        assert not subject.startswith(("paht.", "pahtfed.", ">")), subject
        assert "DONGSON" not in subject.upper() and "PROVINCE_DISPATCH" not in subject
    assert all("FOR-DONGHOI" in s or "FOR_DONGHOI" in s for s, _ in publish if s.startswith(("$JS.province", "$JS.ACK")))
    assert "_INBOX_donghoi.>" in dict(subscribe) and "_INBOX.>" not in dict(subscribe)


def test_secrets_are_kept_per_data_folder(tmp_path):
    first = fed.secret(tmp_path / "x.secret")
    assert fed.secret(tmp_path / "x.secret") == first and len(first) >= 40
    assert fed.without_credentials(fed.services_url("p@ss", 4222)) == "nats://127.0.0.1:4222"


@contextlib.contextmanager
def server(conf: Path, log: Path, monitor: int):
    proc = subprocess.Popen([nats_server_binary(), "-c", str(conf)], stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 15
        while time.monotonic() < end:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true", timeout=1):
                    break
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.integration
def test_the_borders_pull_across_the_leaf_link_and_nothing_else_crosses(tmp_path):
    import nats
    from nats.errors import NoRespondersError, TimeoutError as NatsTimeout
    from nats.js.errors import ServiceUnavailableError

    from paht.runtime.events.bus import ensure_durable
    from paht.runtime.events.envelope import stream_for
    from paht.runtime import federation

    p_conf, h_conf, nodes = write_both(tmp_path)
    (province, p_ports), (hub, h_ports) = nodes["province"], nodes["hub"]
    hub_stream, hub_subjects = stream_for("donghoi", "handling")
    out_stream, out_subjects = stream_for("province", federation.outbound_service("donghoi"))
    other_stream, other_subjects = stream_for("province", "dispatch")

    async def scenario():
        pc = await nats.connect(fed.services_url(fed.service_password(province), p_ports.client))
        hc = await nats.connect(fed.services_url(fed.service_password(hub), h_ports.client), inbox_prefix="_INBOX_donghoi")
        pjs, hjs = pc.jetstream(), hc.jetstream()
        await pjs.add_stream(name=out_stream, subjects=[out_subjects])
        await pjs.add_stream(name=other_stream, subjects=[other_subjects])
        await hjs.add_stream(name=hub_stream, subjects=[hub_subjects])
        await pjs.publish(out_subjects.replace(">", "CaseSent"), b"to the hub")
        await hjs.publish(hub_subjects.replace(">", "CaseAssigned"), b"to the province")
        end = time.monotonic() + 15
        while True:  # the leaf connection comes up within a second or so
            try:
                await hc.jetstream(domain="province", timeout=1).consumer_info(out_stream, "border-donghoi")
            except nats.js.errors.NotFoundError:
                break
            except (NatsTimeout, NoRespondersError, ServiceUnavailableError):
                assert time.monotonic() < end, "the hub never reached the province's JetStream"
                await asyncio.sleep(0.2)

        async def pull(client, domain, stream, durable, subjects):
            js = client.jetstream(domain=domain, timeout=5)
            await ensure_durable(js, stream, durable, subjects)
            psub = await js.pull_subscribe_bind(durable=durable, stream=stream)
            (msg,) = await psub.fetch(1, timeout=5)
            await msg.ack_sync(timeout=5)
            return msg.data

        # what the brief of each border asks for works, acknowledgement included
        assert await pull(hc, "province", out_stream, "border-donghoi", out_subjects) == b"to the hub"
        assert await pull(pc, "donghoi", hub_stream, "border-province", hub_subjects) == b"to the province"
        assert (await pc.jetstream().consumer_info(out_stream, "border-donghoi")).num_ack_pending == 0
        assert (await hc.jetstream().consumer_info(hub_stream, "border-province")).num_ack_pending == 0

        # the hub can do nothing else with the province's JetStream, nor publish a paht subject into it
        hprov = hc.jetstream(domain="province", timeout=1)
        for attempt in (hprov.stream_info(other_stream), hprov.stream_info(out_stream),
                        hprov.add_consumer(other_stream, durable_name="border-donghoi"),
                        hprov.add_consumer(out_stream, durable_name="someone-else")):
            with pytest.raises((NatsTimeout, NoRespondersError, ServiceUnavailableError)):
                await attempt
        seen = await pc.subscribe("paht.>")
        await hc.publish(other_subjects.replace(">", "ReportDispatched"), b"forged")
        await hc.publish("pahtfed.province.donghoi.handling.CaseAssigned", b"forged")
        await hc.flush()
        await asyncio.sleep(0.5)
        assert seen.pending_msgs == 0
        assert (await pjs.stream_info(other_stream)).state.messages == 0
        await pc.close()
        await hc.close()

    with server(p_conf, tmp_path / "province.log", p_ports.monitor), server(h_conf, tmp_path / "hub.log", h_ports.monitor):
        asyncio.run(asyncio.wait_for(scenario(), 60))
    assert "password" not in os.environ.get("PYTEST_CURRENT_TEST", "")
