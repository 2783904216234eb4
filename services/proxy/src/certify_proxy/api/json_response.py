"""JSON responses rendered by pydantic-core's encoder (Rust): several times faster than ``json.dumps``.

The equivalent of FastAPI's ``ORJSONResponse`` without another pinned dependency: pydantic-core is already
FastAPI's. Compact UTF-8 like Starlette's ``JSONResponse``; the proxy's bodies hold only JSON types.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic_core import to_json


class FastJSONResponse(JSONResponse):
    """A :class:`JSONResponse` rendered with ``pydantic_core.to_json``."""

    def render(self, content: Any) -> bytes:
        return to_json(content)
