"""Where the repository and its official-library vectors are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def repo_root() -> Path:
    """The checkout holding this package (the folder with the Makefile)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "Makefile").exists() and (parent / "libs").is_dir():
            return parent
    raise FileNotFoundError("repository root not found")


def vectors(name: str) -> Any:
    """Load ``vectors/<name>.json`` (made by the official libraries; provenance in ``vectors/README.md``)."""
    return json.loads((repo_root() / "vectors" / f"{name}.json").read_text())
