"""Regenerate the published ``proof.schema.json`` from the model: ``python -m certify_client.schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from certify_client.proof import SCHEMA_FILE, generated_schema


def render() -> str:
    """The schema file's exact text."""
    return json.dumps(generated_schema(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    """Write the schema next to the model."""
    target = Path(__file__).with_name(SCHEMA_FILE)
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
