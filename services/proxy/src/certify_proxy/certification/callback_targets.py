"""Where a webhook may go: callback hosts resolved and checked against internal address ranges (SSRF).

A ``callback_url`` is resolved and every address it resolves to must be public: loopback, link-local
(cloud metadata at 169.254.169.254), private, shared (100.64/10), unique-local (fc00::/7), multicast,
unspecified and reserved addresses are refused, IPv4-mapped IPv6 forms included. Names like
``0x7f000001`` or ``2130706433`` are resolved as the C library does (to 127.0.0.1) and so refused too.
The check runs at submission and again at every delivery, which then connects to the very address
that was checked (``webhooks.py``), so a name re-pointed in between (DNS rebinding) gains nothing.
``WEBHOOK_ALLOW_PRIVATE`` lifts the address check (local receivers in development and tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from certify_common.errors import Failure, failure

#: ``resolve(host, port)`` → the addresses the host stands for (tests inject their own).
Resolver = Callable[[str, int], Awaitable[list[str]]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``getaddrinfo`` gives for ``host`` (numeric forms included), in its order, once each."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_class(address: IPAddress) -> str | None:
    """Why an address is internal (``loopback``, ``private``…), or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # ``is_private`` covers 10/8, 172.16/12, 192.168/16 and unique-local fc00::/7; ``is_global`` the rest (100.64/10…).
    for name in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{name}"):
            return name
    return None if address.is_global else "not_global"


@dataclass(frozen=True)
class Target:
    """A callback URL with the address it was checked against (connect there, send the name as Host/SNI)."""

    url: str
    host: str
    port: int
    address: str


def _forbidden(kind: str) -> Failure:
    # The address itself stays out of the answer: it could map internal names for the caller.
    return failure(
        "callback_url_forbidden",
        "callback_url must reach a public address (not loopback, private, link-local or similar)",
        address_class=kind,
    )


async def check_target(url: str, *, allow_private: bool, resolve: Resolver = system_resolve) -> Target | Failure:
    """Resolve ``url``'s host and check every address; the first one is the one to connect to."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return failure("invalid_callback_url", "callback_url has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return failure("invalid_callback_url", "callback_url has an invalid port")
    if not allow_private and (host == "localhost" or host.endswith(".localhost")):
        return _forbidden("loopback")  # RFC 6761: always loopback, whatever a resolver says
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        return failure("callback_url_unresolvable", "the host of callback_url does not resolve", host=host)
    parsed: list[IPAddress] = []
    for address in addresses:
        try:
            parsed.append(ipaddress.ip_address(address.split("%", 1)[0]))
        except ValueError:
            return failure("callback_url_unresolvable", "the host of callback_url resolved to a non-IP", host=host)
    if not allow_private:
        for address_ in parsed:
            kind = address_class(address_)
            if kind is not None:
                return _forbidden(kind)
    return Target(url=url, host=host, port=port, address=str(parsed[0]))
