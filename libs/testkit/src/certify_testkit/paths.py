"""Where the repository and the shared/ folder beside it are."""

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


def shared_dir() -> Path:
    """``shared/`` beside the checkout (specs and official-library vectors)."""
    path = repo_root().parent / "shared"
    if not (path / "vectors").is_dir():
        raise FileNotFoundError(f"shared/ with vectors expected at {path}")
    return path


def vectors(name: str) -> Any:
    """Load ``shared/vectors/<name>.json``."""
    return json.loads((shared_dir() / "vectors" / f"{name}.json").read_text())
