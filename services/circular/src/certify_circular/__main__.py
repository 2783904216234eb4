"""``python -m certify_circular``."""

from __future__ import annotations

from certify_circular.app import create_app
from certify_circular.settings import CircularSettings
from certify_common.mcp_service import serve


def main() -> None:
    settings = CircularSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
