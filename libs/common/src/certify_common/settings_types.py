"""Settings field types every service shares, as pydantic ``Annotated`` types: one parser per idea.

- :data:`CommaList` — ``a,b,c`` from the environment (blanks dropped); a YAML list passes through.
- :data:`NetworkUrls` — per-network URLs, the one syntax ``network=url,network=url`` (a YAML mapping passes
  through); keys must be networks of :mod:`certify_common.evm`, trailing slashes are dropped.
- :data:`HttpUrl` — an ``http(s)://host…`` URL kept as ``str`` (callers append paths to it).
- :func:`is_local_url` — the one loopback/sandbox rule production guards apply to upstream URLs.

Plain pydantic ``HttpUrl`` is not used for URLs: it normalises (adds a trailing ``/``, lower-cases, quotes),
and several URLs here are prefixes that paths or query values are appended to (a NAG URL ends in ``cep=``).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode

from certify_common.evm import NETWORKS

T = TypeVar("T")


def split_commas(value: Any) -> Any:
    """``"a, b,,c"`` → ``["a", "b", "c"]``; anything but a string passes through unchanged."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def network_pairs(value: Any) -> Any:
    """``"base=https://a,base-sepolia=https://b"`` → dict; anything but a string passes through unchanged."""
    if not isinstance(value, str):
        return value
    result: dict[str, str] = {}
    for pair in split_commas(value):
        name, sep, url = pair.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise ValueError(f"expected network=url, got {pair!r}")
        result[name.strip()] = url.strip()
    return result


def _known_networks(value: dict[str, str]) -> dict[str, str]:
    unknown = [name for name in value if name not in NETWORKS]
    if unknown:
        raise ValueError(f"unknown networks {unknown}; known: {sorted(NETWORKS)}")
    return {name: url.rstrip("/") for name, url in value.items()}


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
    return value


def is_local_url(url: str) -> bool:
    """True for a URL that cannot be a production upstream: a loopback, unspecified or missing host, or a sandbox.

    ``sandbox`` anywhere in the host name counts (the development stack's and the chart's test doubles).
    """
    host = (urlsplit(url).hostname or "").lower()
    if host in ("", "localhost") or "sandbox" in host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def is_public_https(url: str) -> bool:
    """True for an ``https://`` URL that is not local (:func:`is_local_url`): what production upstreams must be."""
    return urlsplit(url).scheme == "https" and not is_local_url(url)


#: A comma-separated list (environment) or a list (YAML) of ``T``.
CommaList = Annotated[list[T], NoDecode, BeforeValidator(split_commas)]
#: Network name → URL: ``network=url`` comma-separated (environment) or a mapping (YAML); known networks only.
NetworkUrls = Annotated[dict[str, str], NoDecode, BeforeValidator(network_pairs), AfterValidator(_known_networks)]
#: An http(s) URL with a host, kept as given.
HttpUrl = Annotated[str, AfterValidator(_http_url)]
