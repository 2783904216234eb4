"""``python -m certify_x402``."""

from __future__ import annotations

from certify_common.mcp_service import serve
from certify_x402.app import create_app
from certify_x402.settings import X402Settings


def main() -> None:
    settings = X402Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
