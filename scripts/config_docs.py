"""Render README.md's configuration tables from the settings classes (``--write``), or check them (default).

Each service's settings module is ``certify_<name>.settings``; its table sits in README.md between
``<!-- config:<name> -->`` and ``<!-- /config:<name> -->``. tests/test_docs.py runs the check.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from pathlib import Path

from certify_common.settings import ServiceSettings, markdown_table

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def services() -> list[str]:
    """Service names that have a settings module, in folder order."""
    return sorted(path.parent.name for path in ROOT.glob("services/*/pyproject.toml"))


def settings_class(name: str) -> type[ServiceSettings] | None:
    try:
        module = importlib.import_module(f"certify_{name}.settings")
    except ModuleNotFoundError:
        return None
    found = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, ServiceSettings) and cls is not ServiceSettings and cls.__module__ == module.__name__
    ]
    return found[0] if len(found) == 1 else None


def rendered(text: str) -> str:
    for name in services():
        cls = settings_class(name)
        if cls is None:
            continue
        pattern = re.compile(rf"(<!-- config:{name} -->\n)(?:.*?\n)?(<!-- /config:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no <!-- config:{name} --> block")
        text = pattern.sub(lambda m, cls=cls: m.group(1) + markdown_table(cls) + "\n" + m.group(2), text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite README.md instead of checking it")
    args = parser.parse_args()
    current = README.read_text()
    expected = rendered(current)
    if args.write:
        README.write_text(expected)
        return 0
    if current != expected:
        print("README.md configuration tables are out of date: run `make config-docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
