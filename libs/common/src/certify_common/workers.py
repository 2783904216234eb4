"""The gunicorn worker class of every HTTP image: uvicorn on uvloop with the httptools parser.

``docker/entrypoint.sh`` runs ``gunicorn --worker-class certify_common.workers.UvicornWorker --reuse-port``:
each worker binds its own ``SO_REUSEPORT`` socket, so the kernel spreads new connections over the workers
(one shared accept queue lets whichever worker wakes first take every keep-alive connection). The worker
names uvloop and httptools explicitly instead of uvicorn's ``auto``, which would fall back to the pure-Python
loop and parser without a word if either were missing from an image.
"""

from __future__ import annotations

from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker as _UvicornWorker  # type: ignore[import-untyped]


class UvicornWorker(_UvicornWorker):  # type: ignore[misc]  # the base is untyped (uvicorn-worker has no py.typed)
    """uvicorn-worker's gunicorn worker on uvloop and httptools (an import error if either is absent)."""

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {"loop": "uvloop", "http": "httptools"}
