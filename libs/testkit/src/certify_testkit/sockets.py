"""Which process holds which TCP socket, read from /proc (Linux): how connections spread over server workers."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

#: /proc/net/tcp state codes (include/net/tcp_states.h).
ESTABLISHED = "01"
LISTEN = "0A"


def _socket_inodes(port: int, state: str) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def sockets_by_pid(port: int, pids: Iterable[int], state: str = ESTABLISHED) -> dict[int, int]:
    """How many TCP sockets with local ``port`` in ``state`` each process holds (server side of connections
    by default, ``LISTEN`` for listening sockets)."""
    inodes = _socket_inodes(port, state)
    counts: dict[int, int] = {}
    for pid in pids:
        held = 0
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    held += 1
        except FileNotFoundError:
            pass
        counts[pid] = held
    return counts


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (gunicorn's workers of its master)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def loaded_libraries(pid: int) -> set[str]:
    """Paths of the shared objects mapped into a process (which C extensions it runs)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    except FileNotFoundError:
        return set()
    return {line.split()[-1] for line in maps if ".so" in line.split()[-1]}
