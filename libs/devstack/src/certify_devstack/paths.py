"""Where the checkout is (the stack keeps its state in ``.certify`` beside the Makefile)."""

from __future__ import annotations

from pathlib import Path


def repo_root() -> Path:
    """The checkout holding this package (the folder with the Makefile)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "Makefile").exists() and (parent / "libs").is_dir():
            return parent
    raise FileNotFoundError("repository root not found")
