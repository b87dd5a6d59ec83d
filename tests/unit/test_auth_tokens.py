"""Staff tokens: built-in issuer, verification in every service, and an external OIDC provider's tokens."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paht.runtime.auth import RevocationList, TokenError, TokenIssuer, TokenVerifier, check_password, ensure_signing_key, hash_password
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


def _signed(private, claims: dict) -> str:
    return jwt.encode(claims, private.read_bytes(), algorithm="ES256")


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "aud", "sub"])
def test_a_well_signed_token_without_a_required_claim_is_refused(keys, missing):
    private, public = keys
    now = int(time.time())
    claims = {"iss": "paht", "aud": "paht", "sub": "ioc", "roles": ["ioc_admin"], "org_unit": "ioc-tinh", "iat": now, "exp": now + 300}
    verifier = TokenVerifier(Settings(env="test", token_public_key_file=public))
    assert verifier.verify(_signed(private, claims)).subject == "ioc"
    del claims[missing]
    with pytest.raises(TokenError):
        verifier.verify(_signed(private, claims))


def test_each_token_has_its_own_id_and_a_revoked_one_is_refused(keys):
    private, public = keys
    s = Settings(env="test", token_private_key_file=private, token_public_key_file=public)
    issuer, verifier = TokenIssuer.from_settings(s), TokenVerifier(s)
    first, second = issuer.issue("ioc", "ioc", ["ioc_operator"], "ioc-tinh"), issuer.issue("ioc", "ioc", ["ioc_operator"], "ioc-tinh")
    jti = verifier.verify(first).claims["jti"]
    assert jti and jti != verifier.verify(second).claims["jti"]
    verifier.revoked.add(jti, time.time() + 300)
    with pytest.raises(TokenError):
        verifier.verify(first)
    assert verifier.verify(second).subject == "ioc"


def test_the_revocation_list_asks_its_source_of_truth_for_ids_it_does_not_know():
    revoked = RevocationList()
    asked = []
    revoked.consult(lambda jti: asked.append(jti) or jti == "signed-out")
    later = time.time() + 300
    assert revoked.refuses("signed-out", later) and not revoked.refuses("still-good", later)
    assert revoked.refuses("signed-out", later) and asked == ["signed-out", "still-good"]  # remembered: not asked twice


def test_role_checks_run_in_the_event_loop_unless_the_verifier_may_wait_on_io(keys):
    """require() checks the token in the loop; where checking may wait on I/O (dispatch asks its table of
    revocations, an OIDC issuer's keys are fetched) it still checks in a worker thread."""
    import asyncio

    from starlette.requests import Request

    from paht.runtime.errors import Forbidden
    from paht.runtime.http import make_auth

    private, public = keys
    s = Settings(env="test", token_private_key_file=private, token_public_key_file=public)
    token = TokenIssuer.from_settings(s).issue("canbo", "Hoàng Minh Tuấn", ["staff"], "so-gtvt-kcht")
    request = Request({"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]})
    verifier = TokenVerifier(s)
    _, _, require = make_auth(verifier)
    signed_in = require("staff").__defaults__[0].dependency
    asked_in: list[threading.Thread] = []

    async def check(*roles):
        return await require(*roles)(await signed_in(request))

    assert not verifier.may_block
    assert asyncio.run(check("staff")).subject == "canbo"
    with pytest.raises(Forbidden):
        asyncio.run(check("unit_leader"))
    verifier.revoked.consult(lambda jti: asked_in.append(threading.current_thread()) or False)
    assert verifier.may_block
    assert asyncio.run(check("staff")).subject == "canbo"
    assert asked_in and asked_in[0] is not threading.main_thread()
