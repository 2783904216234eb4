"""Callback targets: every address a host resolves to is checked; internal ranges are refused."""

from __future__ import annotations

import pytest

from certify_common.errors import Failure
from certify_proxy.certification.callback_targets import Target, check_target


def _resolver(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def _unresolvable(host: str, port: int) -> list[str]:
    raise OSError("Name or service not known")


@pytest.mark.parametrize(
    ("url", "address_class"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "link_local"),
        ("https://[::1]/hook", "loopback"),
        ("https://10.0.0.1/hook", "private"),
        ("https://172.16.5.4/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://100.64.0.1/hook", "not_global"),
        ("https://[fc00::1]/hook", "private"),
        ("https://[fe80::1]/hook", "link_local"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://[::]/hook", "unspecified"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://[::ffff:169.254.169.254]/hook", "link_local"),
        ("https://localhost./hook", "loopback"),
        ("https://api.localhost/hook", "loopback"),
        ("https://0x7f000001/hook", "loopback"),
        ("https://2130706433/hook", "loopback"),
        ("https://127.1/hook", "loopback"),
    ],
)
async def test_an_internal_callback_address_is_refused_with_its_class(url: str, address_class: str) -> None:
    result = await check_target(url, allow_private=False)
    assert isinstance(result, Failure)
    assert (result.code, result.details) == ("callback_url_forbidden", {"address_class": address_class})


async def test_a_name_is_refused_when_any_of_its_addresses_is_internal() -> None:
    result = await check_target(
        "https://hooks.example.com/x", allow_private=False, resolve=_resolver("93.184.215.14", "127.0.0.1")
    )
    assert isinstance(result, Failure)
    assert result.details == {"address_class": "loopback"}


async def test_a_public_name_is_pinned_to_its_first_checked_address() -> None:
    result = await check_target(
        "https://hooks.example.com:8443/x", allow_private=False, resolve=_resolver("93.184.215.14", "2606:2800::1")
    )
    assert result == Target("https://hooks.example.com:8443/x", "hooks.example.com", 8443, "93.184.215.14")


async def test_private_addresses_pass_only_when_allowed() -> None:
    result = await check_target("http://127.0.0.1:9000/hook", allow_private=True)
    assert result == Target("http://127.0.0.1:9000/hook", "127.0.0.1", 9000, "127.0.0.1")


async def test_a_host_that_does_not_resolve_is_refused() -> None:
    result = await check_target("https://nowhere.invalid/hook", allow_private=False, resolve=_unresolvable)
    assert isinstance(result, Failure)
    assert result.code == "callback_url_unresolvable"
