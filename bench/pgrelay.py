"""A loopback TCP relay in front of PostgreSQL that counts round trips: how often a client spoke after waiting.

pg_stat_statements needs the server restarted with ``shared_preload_libraries`` (not ours to do on a shared
server), and pg_stat_database counts transactions and rows, not round trips. A round trip is what costs
latency: the client sends, then waits for the server's answer. The relay counts, per connection, each burst of
client bytes that follows server bytes (or opens the connection); it never looks inside the protocol. It runs
on its own event loop in a thread and only in the counting phase (it adds a hop to every round trip).
"""

from __future__ import annotations

import asyncio
import threading


class RoundTripRelay:
    """``with RoundTripRelay(host, port) as relay``: connect to ``relay.port`` instead; ``relay.round_trips``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.round_trips = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        waiting = [True]  # the client speaks first

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, from_client: bool) -> None:
            try:
                while data := await reader.read(65536):
                    if from_client and waiting[0]:
                        self.round_trips += 1
                    waiting[0] = not from_client
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        await asyncio.gather(pump(client_reader, server_writer, True), pump(server_reader, client_writer, False))

    def __enter__(self) -> RoundTripRelay:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=10)
        return self

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        relays = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def dsn(self, url: str) -> str:
        """``url`` (SQLAlchemy or libpq form) with its host and port replaced by the relay's."""
        scheme, rest = url.split("://", 1)
        credentials, _, tail = rest.rpartition("@")
        database = tail.split("/", 1)[1]
        return f"{scheme}://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}/{database}"
