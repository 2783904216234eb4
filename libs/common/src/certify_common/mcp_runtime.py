"""The skeleton every MCP server follows: ``build_server(settings, runtime)``, tools registered by :func:`tool`.

- :class:`Runtime` holds what the app's lifespan provides (clients, caches, domain objects) for the tools to read;
  a tool running before the lifespan started, or after it ended, is a wiring bug and raises
  :class:`NotStartedError`. Tests provide their own dependencies with ``Runtime(name, deps)``.
- :func:`tool` registers a tool with its behaviour hints (``readOnlyHint``, ``idempotentHint``,
  ``destructiveHint`` are required: callers decide retries from them) and its docstring, dedented, as the
  description the model reads.

A service's ``app.py`` then reads::

    runtime: Runtime[Deps] = Runtime("name")

    @asynccontextmanager
    async def lifespan(app):
        async with open_deps(settings) as deps, runtime.provide(deps):
            yield

    create_service(settings, build_server(settings, runtime), lifespan=lifespan)
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar, cast

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class NotStartedError(RuntimeError):
    """A tool ran while its server's lifespan was not running (a wiring bug, never an expected outcome)."""


class Runtime(Generic[T]):
    """The dependencies one MCP server's lifespan provides to its tools."""

    def __init__(self, server: str, value: T | None = None) -> None:
        self.server = server
        self._value = value
        self._started = value is not None

    @property
    def started(self) -> bool:
        """Whether dependencies are provided (the lifespan is running, or a test provided them)."""
        return self._started

    def get(self) -> T:
        """The provided dependencies; :class:`NotStartedError` outside the lifespan."""
        if not self._started:
            raise NotStartedError(f"the {self.server} server's lifespan has not started")
        return cast(T, self._value)  # None only for a server without dependencies (T is None)

    @asynccontextmanager
    async def provide(self, value: T) -> AsyncIterator[T]:
        """Provide ``value`` while the block runs (the app lifespan's body)."""
        self._value, self._started = value, True
        try:
            yield value
        finally:
            self._value, self._started = None, False


def _complete(annotations: ToolAnnotations) -> ToolAnnotations:
    hints = (annotations.read_only_hint, annotations.idempotent_hint, annotations.destructive_hint)
    if any(hint is None for hint in hints):
        raise ValueError("a tool states readOnlyHint, idempotentHint and destructiveHint")
    return annotations


def tool(mcp: MCPServer, annotations: ToolAnnotations) -> Callable[[F], F]:
    """Register the decorated async function as a tool of ``mcp`` with its hints and dedented docstring."""
    checked = _complete(annotations)

    def register(function: F) -> F:
        mcp.add_tool(function, description=inspect.getdoc(function), annotations=checked)
        return function

    return register
