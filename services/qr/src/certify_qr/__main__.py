"""``python -m certify_qr``: serve on HOST:PORT (default 127.0.0.1:8405)."""

from __future__ import annotations

from certify_common.mcp_service import serve
from certify_qr.app import create_app
from certify_qr.settings import QrSettings


def main() -> None:
    settings = QrSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
