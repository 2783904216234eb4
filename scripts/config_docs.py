"""Render the configuration tables from the settings classes (``--write``), or check them (default).

Each service's settings module is ``certify_<name>.settings``; its table sits between
``<!-- config:<name> -->`` and ``<!-- /config:<name> -->`` in README.md (every service) and in the service's
own ``services/<name>/README.md`` (where it has a settings section), so no copy drifts from the code.
tests/test_docs.py runs the check.
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


def rendered(text: str, names: list[str] | None = None, where: str = "README.md") -> str:
    """``text`` with the tables of ``names`` (default: every service, each block required) rendered anew."""
    for name in names if names is not None else services():
        cls = settings_class(name)
        if cls is None:
            continue
        pattern = re.compile(rf"(<!-- config:{name} -->\n)(?:.*?\n)?(<!-- /config:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{where} has no <!-- config:{name} --> block")
        text = pattern.sub(lambda m, cls=cls: m.group(1) + markdown_table(cls) + "\n" + m.group(2), text)
    return text


def documents() -> dict[Path, list[str] | None]:
    """Each document with a table, and the services whose blocks it holds (None: all of them)."""
    found: dict[Path, list[str] | None] = {README: None}
    for name in services():
        path = ROOT / "services" / name / "README.md"
        if path.exists() and f"<!-- config:{name} -->" in path.read_text():
            found[path] = [name]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the documents instead of checking them")
    args = parser.parse_args()
    stale = []
    for path, names in documents().items():
        current = path.read_text()
        expected = rendered(current, names, str(path.relative_to(ROOT)))
        if args.write:
            path.write_text(expected)
        elif current != expected:
            stale.append(str(path.relative_to(ROOT)))
    if stale:
        print(f"configuration tables out of date in {', '.join(stale)}: run `make config-docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
