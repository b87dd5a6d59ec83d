"""Staff tokens: built-in issuer, verification in every service, and an external OIDC provider's tokens."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paht.runtime.auth import TokenError, TokenIssuer, TokenVerifier, check_password, ensure_signing_key, hash_password
from paht.runtime.settings import Settings


@pytest.fixture
def keys(tmp_path):
    private, public = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    ensure_signing_key(private, public)
    return private, public


def test_password_hashes_are_argon2_and_check_both_ways():
    stored = hash_password("mật-khẩu")
    assert stored.startswith("$argon2")
    assert check_password(stored, "mật-khẩu") and not check_password(stored, "sai") and not check_password("garbage", "x")


def test_built_in_token_carries_roles_and_unit(keys):
    private, public = keys
    s = Settings(env="test", token_private_key_file=private, token_public_key_file=public)
    token = TokenIssuer.from_settings(s).issue("canbo", "Hoàng Minh Tuấn", ["staff", "not-a-role"], "so-gtvt-kcht")
    user = TokenVerifier(s).verify(token)
    assert (user.subject, user.org_unit, user.roles) == ("canbo", "so-gtvt-kcht", frozenset({"staff"}))
    assert jwt.get_unverified_header(token)["alg"] == "ES256"


def test_expired_foreign_or_tampered_tokens_are_refused(keys, tmp_path):
    private, public = keys
    s = Settings(env="test", token_private_key_file=private, token_public_key_file=public, token_ttl_s=-60)
    expired = TokenIssuer.from_settings(s).issue("ioc", "ioc", ["ioc_operator"], "ioc-tinh")
    with pytest.raises(TokenError):
        TokenVerifier(s).verify(expired)
    other_private, other_public = tmp_path / "o.pem", tmp_path / "o.pub.pem"
    ensure_signing_key(other_private, other_public)
    s2 = Settings(env="test", token_private_key_file=other_private, token_public_key_file=other_public)
    foreign = TokenIssuer.from_settings(s2).issue("ioc", "ioc", ["ioc_admin"], "ioc-tinh")
    with pytest.raises(TokenError):
        TokenVerifier(Settings(env="test", token_public_key_file=public)).verify(foreign)
    good = TokenIssuer.from_settings(Settings(env="test", token_private_key_file=private, token_public_key_file=public)).issue("a", "a", [], "x")
    head, body, sig = good.split(".")
    with pytest.raises(TokenError):
        TokenVerifier(Settings(env="test", token_public_key_file=public)).verify(f"{head}.{body}x.{sig}")
    with pytest.raises(TokenError):
        TokenVerifier(Settings(env="test", token_public_key_file=public)).verify("")


def test_tokens_of_an_external_oidc_provider_are_accepted_through_its_jwks():
    """A Keycloak-shaped token (RS256, roles under realm_access.roles) verified via the provider's JWKS URL."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "kc-1", "use": "sig", "alg": "RS256"})
    body = json.dumps({"keys": [jwk]}).encode()

    class JWKS(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), JWKS)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        issuer = "https://sso.example/realms/quangbinh"
        s = Settings(env="test", token_issuer=issuer, token_jwks_url=f"http://127.0.0.1:{server.server_port}/certs",
                     token_roles_claim="realm_access.roles", token_org_claim="org_unit")
        now = int(time.time())
        claims = {"iss": issuer, "aud": "paht", "sub": "f3a1", "preferred_username": "nguyenvana", "iat": now, "exp": now + 300,
                  "realm_access": {"roles": ["ioc_operator", "offline_access"]}, "org_unit": "ioc-tinh"}
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "kc-1"})
        user = TokenVerifier(s).verify(token)
        assert user.name == "nguyenvana" and user.roles == frozenset({"ioc_operator"}) and user.org_unit == "ioc-tinh"
        with pytest.raises(TokenError):
            TokenVerifier(s).verify(jwt.encode({**claims, "iss": "https://evil.example"}, key, algorithm="RS256", headers={"kid": "kc-1"}))
    finally:
        server.shutdown()


def test_production_refuses_missing_backends_and_demo_passwords(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("NATS_URL", raising=False)
    with pytest.raises(ValueError):
        Settings(env="production")
    with pytest.raises(ValueError):
        monkeypatch.setenv("DATABASE_URL", "postgresql://x")
        monkeypatch.setenv("NATS_URL", "nats://x")
        Settings(env="production", demo_password="paht-demo")
