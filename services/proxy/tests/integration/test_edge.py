"""The HTTP edge of the proxy in process: bounded metric labels, bodies read only after the key, client address."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from certify_proxy.app import create_app
from certify_proxy.settings import ProxySettings
from certify_proxy.store.migrate import upgrade_async

pytestmark = pytest.mark.integration

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) ")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'edge.db'}"
    await upgrade_async(url)
    settings = ProxySettings(
        database_url=url,
        certify_env="test",
        redis_url=None,
        job_workers=0,
        balance_check_interval_s=0,
        rate_limit_reads_per_min=100_000,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


def _series(exposition: str) -> set[str]:
    """Every sample's name and labels, without its value."""
    return {match.group(1) for line in exposition.splitlines() if (match := _SAMPLE.match(line))}


async def test_three_thousand_distinct_unmatched_paths_add_no_metric_series(app: FastAPI) -> None:
    shapes = ("/v1/status/{}/", "/nowhere/{}", "/v1/qr/{}/extra")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http:
        for shape in shapes:  # one of each, so every label the flood can produce exists already
            assert (await http.get(shape.format("warm-up"))).status_code == 404
        await http.get("/metrics")
        before = (await http.get("/metrics")).text
        for index in range(3000):
            answer = await http.get(shapes[index % 3].format(f"flood-{index:04d}"))
            assert answer.status_code == 404
        after = (await http.get("/metrics")).text
    assert _series(after) == _series(before)
    assert abs(len(after) - len(before)) < 1024  # only sample values changed
    assert "flood-" not in after
    assert 'certify_http_request_duration_seconds_count{method="GET",path="unmatched",status="404"}' in after
