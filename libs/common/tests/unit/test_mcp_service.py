"""The MCP service factory: health, readiness, metrics, host protection and structured failures."""

from typing import Annotated

from fastapi.testclient import TestClient
from mcp import Client
from mcp.types import CallToolResult
from pydantic import BaseModel

from certify_common.errors import failure
from certify_common.mcp_service import create_service, failure_from_result, new_mcp_server, result_of
from certify_common.settings import ServiceSettings


class Echo(BaseModel):
    value: int
    note: str | None


class DemoSettings(ServiceSettings):
    service_name = "demo"


def build(ready: bool = True):  # type: ignore[no-untyped-def]
    mcp = new_mcp_server("demo", "A demo server.")

    @mcp.tool()
    async def echo(value: int) -> Annotated[CallToolResult, Echo]:
        """Echo a non-negative value."""
        if value < 0:
            return result_of(failure("negative_value", "value must be >= 0", got=value))
        return result_of(Echo(value=value, note=None))

    async def dependency() -> bool:
        return ready

    app = create_service(DemoSettings(), mcp, readiness={"dependency": dependency})
    return mcp, app


JSONRPC_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}


def test_health_routes_answer_and_readiness_follows_checks() -> None:
    for ready, status in ((True, 200), (False, 503)):
        _, app = build(ready)
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            assert client.get("/healthz").json() == {"status": "ok", "service": "demo"}
            response = client.get("/readyz")
            assert response.status_code == status
            assert response.json()["checks"] == {"dependency": ready}
            assert client.get("/health").status_code == status


def test_a_foreign_host_header_is_refused_on_mcp() -> None:
    _, app = build()
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        refused = client.post("/mcp", json=LIST_TOOLS, headers={**JSONRPC_HEADERS, "Host": "evil.example:8000"})
        assert refused.status_code == 421
        accepted = client.post("/mcp", json=LIST_TOOLS, headers=JSONRPC_HEADERS)
        assert accepted.status_code == 200
        assert [tool["name"] for tool in accepted.json()["result"]["tools"]] == ["echo"]


async def test_failures_are_error_results_with_the_common_model() -> None:
    mcp, _ = build()
    async with Client(mcp) as client:
        good = await client.call_tool("echo", {"value": 3})
        bad = await client.call_tool("echo", {"value": -1})
    assert (good.is_error, good.structured_content) == (False, {"value": 3, "note": None})
    assert bad.is_error
    assert bad.structured_content is None
    assert failure_from_result(bad) == failure("negative_value", "value must be >= 0", got=-1)
    assert failure_from_result(good) is None


def test_tool_calls_are_counted_by_outcome() -> None:
    _, app = build()
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"value": -5}}}
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        before = _counter(client.get("/metrics").text)
        assert client.post("/mcp", json=call, headers=JSONRPC_HEADERS).json()["result"]["isError"] is True
        after = _counter(client.get("/metrics").text)
    assert after - before == 1


def _counter(text: str) -> float:
    prefix = 'certify_mcp_tool_calls_total{outcome="failure",server="demo",tool="echo"}'
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0


def test_an_unregistered_tool_name_is_counted_as_unknown() -> None:
    _, app = build()
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "no-such-tool-42", "arguments": {}}}
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        client.post("/mcp", json=call, headers=JSONRPC_HEADERS)
        metrics = client.get("/metrics").text
    assert "no-such-tool-42" not in metrics
    assert 'certify_mcp_tool_calls_total{outcome="error",server="demo",tool="unknown"}' in metrics
