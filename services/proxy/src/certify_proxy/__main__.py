"""``python -m certify_proxy``: build the app and serve it (``certify-admin db upgrade`` migrates, not this)."""

from __future__ import annotations

from certify_common.logs import configure_logging
from certify_common.mcp_service import serve
from certify_proxy.app import create_app
from certify_proxy.settings import ProxySettings


def main() -> None:
    """Build the app and run uvicorn; it reports not ready until the database schema is at head."""
    settings = ProxySettings()
    configure_logging(settings.log_level, settings.service_name)
    # The app reads X-Forwarded-For itself, from FORWARDED_ALLOW_IPS only; uvicorn would trust any loopback peer.
    serve(create_app(settings), settings, proxy_headers=False)


if __name__ == "__main__":
    main()
