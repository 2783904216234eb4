"""``python -m certify_operator``."""

from __future__ import annotations

import asyncio

from certify_common.logs import configure_logging
from certify_common.tracing import configure_tracing
from certify_operator.app import serve
from certify_operator.settings import OperatorSettings


def main() -> None:
    settings = OperatorSettings()
    configure_logging(settings.log_level, settings.service_name)
    # certify-operator spans (its httpx calls to the proxy admin API) when OTEL_EXPORTER_OTLP_ENDPOINT is set.
    configure_tracing("operator")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
