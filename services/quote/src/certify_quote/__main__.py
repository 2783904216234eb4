"""``python -m certify_quote``."""

from __future__ import annotations

from certify_common.mcp_service import serve
from certify_quote.app import create_app
from certify_quote.settings import QuoteSettings


def main() -> None:
    settings = QuoteSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
