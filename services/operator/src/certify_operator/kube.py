"""The few Kubernetes API calls kopf does not make for us: DeadLetter resources and the admin-key Secret.

kopf handles watching, status patches and Events; it has no public client for creating or deleting
other objects. Rather than a second client library with its own credential discovery, this uses
the credentials kopf logged in with (``kopf.ConnectionInfo``: kubeconfig or service account).
"""

from __future__ import annotations

import base64
import ssl
from typing import Any

import httpx
import kopf

from certify_operator.resources import DEAD_LETTERS, GROUP, VERSION


class KubeError(Exception):
    """The Kubernetes API refused a call (an outage or a bug, not an expected outcome)."""


class Kube:
    """A tiny Kubernetes client built from kopf's connection info (set by the login handler)."""

    def __init__(self, timeout_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        self._http: httpx.AsyncClient | None = None

    def use(self, info: kopf.ConnectionInfo) -> None:
        """Adopt the credentials kopf logged in with."""
        verify: ssl.SSLContext | bool = not info.insecure
        if info.ca_path or info.ca_data:
            cadata = base64.b64decode(info.ca_data).decode() if info.ca_data else None
            verify = ssl.create_default_context(cafile=info.ca_path, cadata=cadata)
        headers = {"Authorization": f"{info.scheme or 'Bearer'} {info.token}"} if info.token else {}
        self._http = httpx.AsyncClient(base_url=info.server, headers=headers, verify=verify, timeout=self.timeout_s)

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._http is not None:
            await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._http is None:
            raise KubeError("not logged in to Kubernetes yet")
        response = await self._http.request(method, path, **kwargs)
        if response.status_code >= 400 and response.status_code not in (404, 409):
            raise KubeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response

    @staticmethod
    def _dead_letters(namespace: str, name: str | None = None) -> str:
        base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{DEAD_LETTERS}"
        return f"{base}/{name}" if name else base

    async def list_dead_letters(self, namespace: str, labels: dict[str, str]) -> list[dict[str, Any]]:
        """DeadLetter resources of a namespace carrying every given label."""
        selector = ",".join(f"{key}={value}" for key, value in labels.items())
        response = await self._call("GET", self._dead_letters(namespace), params={"labelSelector": selector})
        if response.status_code == 404:
            return []
        items: list[dict[str, Any]] = response.json().get("items") or []
        # Filtered here too: the label selector is a request, not every API server honours it (test doubles).
        return [
            item for item in items if all((item["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())
        ]

    async def create_dead_letter(self, body: dict[str, Any]) -> bool:
        """Create it; False if it already exists (another replica or an earlier run made it)."""
        response = await self._call("POST", self._dead_letters(body["metadata"]["namespace"]), json=body)
        return response.status_code != 409

    async def delete_dead_letter(self, namespace: str, name: str) -> bool:
        """Delete it; False if it was already gone."""
        response = await self._call("DELETE", self._dead_letters(namespace, name))
        return response.status_code != 404

    async def patch_dead_letter_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge ``status`` into a DeadLetter's status subresource."""
        await self._call(
            "PATCH",
            self._dead_letters(namespace, name) + "/status",
            json={"status": status},
            headers={"Content-Type": "application/merge-patch+json"},
        )

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """One key of a Secret, decoded; None when the Secret or the key is missing."""
        response = await self._call("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if response.status_code == 404:
            return None
        data = response.json().get("data") or {}
        return base64.b64decode(data[key]).decode() if key in data else None
