"""``python -m certify_sandbox``."""

from __future__ import annotations

from certify_common.mcp_service import serve
from certify_sandbox.app import create_app
from certify_sandbox.settings import SandboxSettings


def main() -> None:
    settings = SandboxSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
