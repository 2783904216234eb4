"""The QR tools in memory: schemas, structured results, and every expected failure as a value."""

from __future__ import annotations

import base64
import threading
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult, Tool

from certify_common.mcp_runtime import Runtime
from certify_qr.settings import QrSettings
from certify_qr.tools import build_server
from certify_testkit.mcp_calls import assert_matches_output_schema, failure_of, schema_requires_documented_fields
from certify_testkit.qrdecode import png_size

TOOLS = {"generate_qr_ascii", "generate_qr_image", "encode_x402_to_qr"}


@pytest.fixture
def server() -> MCPServer:
    return build_server(QrSettings(), Runtime("qr", None))


async def run(server: MCPServer, tool: str, arguments: dict[str, Any]) -> tuple[Tool, CallToolResult]:
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        return tools[tool], await client.call_tool(tool, arguments)


async def test_every_tool_is_described_and_every_output_field_is_required(server: MCPServer) -> None:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    assert {tool.name for tool in tools} == TOOLS
    for tool in tools:
        description = tool.description or ""
        assert len(description) > 80, tool.name
        assert "\n    " not in description, "the docstring reaches the model dedented"
        schema_requires_documented_fields(tool)
        for name, nested in (tool.output_schema or {}).get("$defs", {}).items():
            assert set(nested["required"]) == set(nested["properties"]), f"{tool.name}.{name}"
        for name, prop in tool.input_schema["properties"].items():
            assert prop.get("description"), f"{tool.name}({name}) is undocumented"


async def test_ascii_qr_is_drawn_with_half_blocks_two_module_rows_per_line(server: MCPServer) -> None:
    tool, result = await run(server, "generate_qr_ascii", {"data": "certify", "border": 2})
    art = assert_matches_output_schema(tool, result)
    lines = art["text"].split("\n")
    side = 17 + 4 * art["version"] + 2 * 2  # modules per side with a 2-module quiet zone
    assert art["width_chars"] == side
    assert all(len(line) == side for line in lines)
    assert art["height_lines"] == len(lines) == (side + 1) // 2
    assert set(art["text"]) <= {"█", "▀", "▄", " ", "\n"}
    assert lines[0] == " " * side, "the quiet zone is undrawn on a light terminal"
    assert (art["inverted"], art["border_modules"], art["error_correction"]) == (False, 2, "M")


async def test_inverted_ascii_draws_exactly_the_other_modules(server: MCPServer) -> None:
    swap = {"█": " ", " ": "█", "▀": "▄", "▄": "▀"}
    tops = {"█": True, "▀": True, "▄": False, " ": False}
    _, plain = await run(server, "generate_qr_ascii", {"data": "certify", "invert": False})
    _, inverted = await run(server, "generate_qr_ascii", {"data": "certify", "invert": True})
    assert isinstance(plain.structured_content, dict)
    assert isinstance(inverted.structured_content, dict)
    plain_lines = plain.structured_content["text"].split("\n")
    inverted_lines = inverted.structured_content["text"].split("\n")
    assert inverted.structured_content["inverted"] is True
    # Every line but the last covers two module rows; the last one's lower half is terminal background.
    for plain_line, inverted_line in zip(plain_lines[:-1], inverted_lines[:-1], strict=True):
        assert inverted_line == "".join(swap[char] for char in plain_line)
    assert [tops[c] for c in inverted_lines[-1]] == [not tops[c] for c in plain_lines[-1]]
    assert inverted_lines[0] == "█" * len(inverted_lines[0]), "the quiet zone is drawn on a dark terminal"


@pytest.mark.parametrize(("image_format", "mime_type"), [("png", "image/png"), ("svg", "image/svg+xml")])
async def test_images_come_as_base64_and_data_uri(server: MCPServer, image_format: str, mime_type: str) -> None:
    arguments = {"data": "https://certify.example/v1/status/abc", "format": image_format, "size": 300}
    tool, result = await run(server, "generate_qr_image", {**arguments, "error_correction": "q"})
    image = assert_matches_output_schema(tool, result)
    assert image["mime_type"] == mime_type
    assert image["format"] == image_format
    assert image["data_uri"] == f"data:{mime_type};base64,{image['base64']}"
    assert (image["width_px"], image["height_px"], image["error_correction"]) == (300, 300, "Q")
    assert image["modules"] == 17 + 4 * image["version"]
    body = base64.b64decode(image["base64"], validate=True)
    if image_format == "png":
        assert png_size(body) == (300, 300)
    else:
        assert body.startswith(b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"')


@pytest.mark.parametrize("size", [64, 300, 1000, 2048])
async def test_the_png_is_exactly_size_pixels_wide(server: MCPServer, size: int) -> None:
    tool, result = await run(server, "generate_qr_image", {"data": "certify", "format": "png", "size": size})
    image = assert_matches_output_schema(tool, result)
    assert png_size(base64.b64decode(image["base64"])) == (size, size)


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"data": "x", "format": "png", "size": 63}, "size_out_of_range"),
        ({"data": "x", "format": "png", "size": 2049}, "size_out_of_range"),
        ({"data": "x", "format": "gif", "size": 300}, "unsupported_format"),
        ({"data": "x", "format": "png", "size": 300, "error_correction": "Z"}, "invalid_error_correction"),
        ({"data": "", "format": "png", "size": 300}, "empty_data"),
        ({"data": "x" * 8000, "format": "png", "size": 300}, "data_too_long"),
        ({"data": "x" * 2000, "format": "svg", "size": 300, "error_correction": "H"}, "data_too_long"),
        ({"data": "x" * 1200, "format": "png", "size": 64}, "size_too_small"),
        ({"data": "x" * 1200, "format": "svg", "size": 64}, "size_too_small"),
    ],
)
async def test_bad_image_requests_are_failures(server: MCPServer, arguments: dict[str, Any], code: str) -> None:
    _, result = await run(server, "generate_qr_image", arguments)
    assert failure_of(result)["code"] == code


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"data": "x", "border": -1}, "border_out_of_range"),
        ({"data": "x", "border": 17}, "border_out_of_range"),
        ({"data": ""}, "empty_data"),
        ({"data": "7" * 7090}, "data_too_long"),
    ],
)
async def test_bad_ascii_requests_are_failures(server: MCPServer, arguments: dict[str, Any], code: str) -> None:
    _, result = await run(server, "generate_qr_ascii", arguments)
    assert failure_of(result)["code"] == code


async def test_drawing_runs_in_a_worker_thread(server: MCPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import certify_qr.tools as tools_module

    threads: list[int] = []
    real = tools_module.draw_image

    def spy(*args: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr(tools_module, "draw_image", spy)
    _, result = await run(server, "generate_qr_image", {"data": "certify", "format": "png", "size": 100})
    assert not result.is_error
    assert threads
    assert threads[0] != threading.get_ident()
