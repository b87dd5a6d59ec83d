"""Staff identity: signed tokens (JWT, ES256) shaped like OIDC access tokens, checked by every service."""
from __future__ import annotations

import functools
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from paht.runtime.ids import new_id
from paht.runtime.settings import Settings

from paht.runtime.roles import ALL as ROLES  # noqa: E402  (re-exported for callers of this module)
ALGORITHM = "ES256"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]  # a token without any of these is refused, however well signed


@functools.lru_cache(maxsize=1)
def _hasher():
    """argon2's hasher, imported where passwords are checked (dispatch, the directory's owner) and nowhere else."""
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerifyMismatchError

    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def ensure_signing_key(private_path: Path, public_path: Path) -> None:
    """Create an EC P-256 key pair for the built-in issuer if none exists (embedded run)."""
    if private_path.exists() and public_path.exists():
        return
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def key_id(public_pem: bytes) -> str:
    import hashlib

    return hashlib.sha256(public_pem).hexdigest()[:16]


@dataclass(frozen=True)
class Principal:
    """The person behind a request, as the token says."""

    subject: str
    name: str
    roles: frozenset[str]
    org_unit: str
    claims: dict = field(default_factory=dict, compare=False, hash=False)

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


class TokenError(Exception):
    """The token is missing, malformed, expired or not ours."""


class TokenIssuer:
    """The built-in issuer; an OIDC provider (e.g. Keycloak) can take its place."""

    def __init__(self, private_pem: bytes, public_pem: bytes, issuer: str, audience: str, ttl_s: int):
        self._private = private_pem
        self._kid = key_id(public_pem)
        self._public = public_pem
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s

    @classmethod
    def from_settings(cls, s: Settings) -> "TokenIssuer":
        if not s.token_private_key_file:
            raise RuntimeError("PAHT_TOKEN_PRIVATE_KEY_FILE is not set: the built-in issuer cannot sign")
        return cls(s.token_private_key_file.read_bytes(), s.token_public_key_file.read_bytes(), s.token_issuer, s.token_audience, s.token_ttl_s)

    def issue(self, subject: str, name: str, roles: list[str], org_unit: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "name": name,
            "roles": sorted(roles),
            "org_unit": org_unit,
            "iat": now,
            "nbf": now - 5,
            "exp": now + self.ttl_s,
            "jti": new_id(),  # what logout revokes
        }
        return jwt.encode(claims, self._private, algorithm=ALGORITHM, headers={"kid": self._kid})

    def jwks(self) -> dict:
        public = serialization.load_pem_public_key(self._public)
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
        jwk.update({"kid": self._kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": [jwk]}


class RevocationList:
    """Ids (jti) of tokens signed out before they expire: every service's verifier refuses them.

    Fed by the revocation watcher (`paht.runtime.revocation`); dispatch, which keeps the revocations,
    also consults its own table so that none of its replicas depends on the broker for this.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}  # jti -> expiry (epoch seconds); kept until the token would have expired anyway
        self._ask: Callable[[str], bool] | None = None

    def consult(self, ask: Callable[[str], bool]) -> None:
        """Also ask `ask(jti)` (the source of truth) for ids not known here."""
        self._ask = ask

    @property
    def consults(self) -> bool:
        """Whether refuses() asks the source of truth (dispatch: a query of its database)."""
        return self._ask is not None

    def add(self, jti: str, expires_at: float) -> None:
        now = time.time()
        with self._lock:
            self._until[jti] = expires_at
            if len(self._until) % 256 == 0:
                self._until = {k: v for k, v in self._until.items() if v > now}

    def refuses(self, jti: str, expires_at: float) -> bool:
        """Tell whether the token with this id (expiring then) was signed out."""
        with self._lock:
            if jti in self._until:
                return True
        if self._ask is not None and self._ask(jti):
            self.add(jti, expires_at)  # remembered: the source of truth is asked once per revoked token
            return True
        return False

    def __len__(self) -> int:
        with self._lock:
            return len(self._until)


def _public_key(pem: bytes):
    """The key object, loaded once: given the PEM, PyJWT parsed it again at every check (a tenth or more of one)."""
    try:
        return serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):  # not a PEM public key: each check refuses the token with PyJWT's reason, as before
        return pem


class TokenVerifier:
    """Check a token's signature, issuer, audience, lifetime and revocation; map its claims to a Principal."""

    def __init__(self, s: Settings, revoked: RevocationList | None = None):
        self.revoked = revoked if revoked is not None else RevocationList()
        self._issuer = s.token_issuer
        self._audience = s.token_audience
        self._roles_claim = s.token_roles_claim
        self._org_claim = s.token_org_claim
        self._jwks_client = jwt.PyJWKClient(s.token_jwks_url, cache_keys=True) if s.token_jwks_url else None
        self._public = _public_key(s.token_public_key_file.read_bytes()) if s.token_public_key_file and not self._jwks_client else None

    @property
    def may_block(self) -> bool:
        """Whether verify() may wait on I/O: fetching an OIDC issuer's keys, or asking the revocations' source of
        truth (dispatch's database)."""
        return self._jwks_client is not None or self.revoked.consults

    def verify(self, token: str) -> Principal:
        if not token:
            raise TokenError("no token")
        try:
            if self._jwks_client is not None:
                key = self._jwks_client.get_signing_key_from_jwt(token).key
                algorithms = ["ES256", "RS256"]
            elif self._public is not None:
                key = self._public
                algorithms = [ALGORITHM]
            else:
                raise TokenError("this service has no key to check tokens with")
            claims = jwt.decode(token, key, algorithms=algorithms, audience=self._audience, issuer=self._issuer, leeway=10,
                                options={"require": REQUIRED_CLAIMS})
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from exc
        if claims.get("jti") and self.revoked.refuses(str(claims["jti"]), float(claims["exp"])):
            raise TokenError("this token was signed out")
        roles = _dig(claims, self._roles_claim) or []
        return Principal(
            subject=str(claims["sub"]),
            name=str(claims.get("name") or claims.get("preferred_username") or claims["sub"]),
            roles=frozenset(r for r in roles if r in ROLES),
            org_unit=str(_dig(claims, self._org_claim) or ""),
            claims=claims,
        )


def _dig(claims: dict, path: str):
    """Read a claim by dotted path, e.g. 'realm_access.roles' for Keycloak."""
    value = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
