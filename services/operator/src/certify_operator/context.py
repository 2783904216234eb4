"""What the handlers share: settings, the Kubernetes client, and one admin API client per proxy."""

from __future__ import annotations

from typing import Any

from certify_common.errors import Failure, failure
from certify_operator.kube import Kube
from certify_operator.proxyadmin import ProxyAdmin
from certify_operator.settings import OperatorSettings


class OperatorContext:
    """Long-lived clients of one operator process."""

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings
        self.kube = Kube()
        self._admins: dict[tuple[str, str], ProxyAdmin] = {}

    async def admin_for(self, namespace: str, proxy: dict[str, Any]) -> ProxyAdmin | Failure:
        """The admin client a resource's ``spec.proxy`` names (URL, key Secret), else the settings' defaults."""
        url = str(proxy.get("adminUrl") or self.settings.proxy_admin_url)
        secret = proxy.get("adminKeySecret") or {}
        if secret.get("name"):
            key = await self.kube.secret_value(namespace, str(secret["name"]), str(secret.get("key") or "api-key"))
            if key is None:
                return failure("proxy_key_missing", f"Secret {secret['name']} has no admin key", secret=secret["name"])
        elif self.settings.proxy_admin_key is not None:
            key = self.settings.proxy_admin_key.get_secret_value()
        else:
            return failure("proxy_key_missing", "set PROXY_ADMIN_KEY or spec.proxy.adminKeySecret")
        client = self._admins.get((url, key))
        if client is None:
            client = self._admins[(url, key)] = ProxyAdmin(url, key, self.settings.proxy_timeout_s)
        return client

    async def aclose(self) -> None:
        """Close every client."""
        for client in self._admins.values():
            await client.aclose()
        self._admins.clear()
        await self.kube.aclose()
