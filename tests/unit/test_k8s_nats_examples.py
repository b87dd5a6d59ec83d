"""The operators' nats-server examples in deploy/k8s/nats: what scripts/nats-examples renders from federation_up (so
they cannot drift from the leaf users and permissions `paht up` configures), and accepted by nats-server."""
from __future__ import annotations

import datetime
import importlib.machinery
import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from paht.runtime import federation_up as fed
from paht.runtime.supervisor import nats_server_binary

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "deploy" / "k8s" / "nats"


def generator():
    loader = importlib.machinery.SourceFileLoader("nats_examples", str(ROOT / "scripts" / "nats-examples"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_committed_examples_are_what_federation_up_renders():
    rendered = generator().examples()
    assert set(rendered) == {"province-leafnodes.conf.example", "hub-donghoi.conf.example"}
    assert {p.name for p in FOLDER.glob("*.conf.example")} == set(rendered)
    for name, text in rendered.items():
        assert (FOLDER / name).read_text(encoding="utf-8") == text, f"{name} is stale: run scripts/nats-examples and commit"


def test_the_province_example_gives_each_hub_exactly_the_permissions_paht_up_gives():
    text = (FOLDER / "province-leafnodes.conf.example").read_text(encoding="utf-8")
    publish, subscribe = fed.hub_permissions("donghoi")
    for subject, _why in publish + subscribe:
        assert f'"{subject}"' in text, subject
    assert "password: $PAHT_LEAF_DONGHOI_PASSWORD" in text and 'allowed_connection_types: ["LEAFNODE"]' in text
    assert "domain: province" in text and "no_advertise: true" in text and "verify: true" in text
    hub = (FOLDER / "hub-donghoi.conf.example").read_text(encoding="utf-8")
    assert "domain: donghoi" in hub and "url: $PAHT_LEAF_URL" in hub and "account: PAHT" in hub


def test_no_password_in_the_examples():
    for path in FOLDER.glob("*.conf.example"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "password:" in line:
                assert "password: $" in line, f"{path.name}: {line.strip()}"


def _self_signed(folder: Path) -> None:
    """tls.crt / tls.key / ca.crt: one throwaway self-signed certificate, enough for nats-server to load."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf.paht.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("leaf.paht.test")]), critical=False)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "tls.crt").write_bytes(pem)
    (folder / "ca.crt").write_bytes(pem)
    (folder / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))


@pytest.mark.parametrize("name", ["province-leafnodes.conf.example", "hub-donghoi.conf.example"])
def test_example_passes_nats_server_config_check(name, tmp_path):
    tls = tmp_path / "tls"
    tls.mkdir()
    _self_signed(tls)
    text = (FOLDER / name).read_text(encoding="utf-8")
    assert fed.EXAMPLE_TLS_DIR in text
    conf = tmp_path / "nats.conf"
    conf.write_text(text.replace(fed.EXAMPLE_TLS_DIR, str(tls)).replace(fed.EXAMPLE_STORE_DIR, str(tmp_path / "js")), encoding="utf-8")
    env = dict(os.environ, **{fed.SERVICE_PASSWORD_VARIABLE: "s3rvices", fed.SYS_PASSWORD_VARIABLE: "sys",
                              fed.leaf_password_variable("donghoi"): "j0in", fed.LEAF_URL_VARIABLE: "tls://donghoi:j0in@leaf.paht.test:7422"})
    result = subprocess.run([nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    # and without the environment the server refuses to start: no silent empty password
    env.pop(fed.SERVICE_PASSWORD_VARIABLE)
    result = subprocess.run([nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode != 0 and fed.SERVICE_PASSWORD_VARIABLE in result.stderr + result.stdout
