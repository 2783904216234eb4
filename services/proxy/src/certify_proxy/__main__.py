"""``python -m certify_proxy``: migrate the database to head, then serve."""

from __future__ import annotations

from certify_common.logs import configure_logging
from certify_common.mcp_service import serve
from certify_proxy.app import create_app
from certify_proxy.settings import ProxySettings
from certify_proxy.store.migrate import upgrade


def main() -> None:
    """Upgrade the schema (idempotent; Alembic serialises on PostgreSQL), build the app, run uvicorn."""
    settings = ProxySettings()
    configure_logging(settings.log_level, settings.service_name)
    upgrade(settings.database_url)
    # The app reads X-Forwarded-For itself, from FORWARDED_ALLOW_IPS only; uvicorn would trust any loopback peer.
    serve(create_app(settings), settings, proxy_headers=False)


if __name__ == "__main__":
    main()
