"""Where the repository and its official-library vectors are."""

from __future__ import annotations

import json
from typing import Any

from certify_devstack.paths import repo_root

__all__ = ["repo_root", "vectors"]


def vectors(name: str) -> Any:
    """Load ``vectors/<name>.json`` (made by the official libraries; provenance in ``vectors/README.md``)."""
    return json.loads((repo_root() / "vectors" / f"{name}.json").read_text())
