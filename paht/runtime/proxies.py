"""Who sent a request and to which address: forwarded headers are believed only from PAHT_TRUSTED_PROXIES."""
from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

from starlette.requests import Request

if TYPE_CHECKING:
    from paht.runtime.settings import Settings

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def is_trusted_proxy(address: str, settings: "Settings") -> bool:
    """Tell whether an address is one of the configured proxies (PAHT_TRUSTED_PROXIES)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in settings.proxy_networks())


def from_trusted_proxy(request: Request, settings: "Settings") -> bool:
    """Tell whether the peer that sent this request is one of the configured proxies."""
    return is_trusted_proxy(request.client.host if request.client else "", settings)


def request_origin(request: Request, settings: "Settings") -> str:
    """Return the origin this request was addressed to; X-Forwarded-* count only from a trusted proxy."""
    scheme, host = request.url.scheme, request.headers.get("host") or request.url.netloc
    if from_trusted_proxy(request, settings):
        forwarded_host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
        forwarded_proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if forwarded_host and _HOST.match(forwarded_host):
            host = forwarded_host
        if forwarded_proto in ("http", "https"):
            scheme = forwarded_proto
    return f"{scheme}://{host}"


def public_base(request: Request, settings: "Settings") -> str:
    """Return the address people use (no trailing slash): PAHT_PUBLIC_URL when set, else the request's origin."""
    return settings.public_url or request_origin(request, settings)


def client_address(request: Request, settings: "Settings") -> str:
    """Return the client's address: the peer's, or X-Forwarded-For's last hop when the peer is a trusted proxy."""
    peer = request.client.host if request.client else ""
    if from_trusted_proxy(request, settings):
        hops = [h.strip() for value in request.headers.getlist("x-forwarded-for") for h in value.split(",") if h.strip()]
        if hops:
            try:
                return str(ipaddress.ip_address(hops[-1]))  # the hop our own proxy added; earlier ones are the client's word
            except ValueError:
                pass
    return peer


def site_origins(request: Request, settings: "Settings") -> set[str]:
    """Return the origins a form of this site may be posted from."""
    return {public_base(request, settings), request_origin(request, settings)}
