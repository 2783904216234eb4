"""RUNBOOK.md has a section for every alert, where its runbook_url points, with the four parts on-call needs."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import alert_rules

PARTS = ("**Meaning.**", "**First look.**", "**Remedies.**", "**Escalate**")


def sections(root: Path) -> dict[str, str]:
    text = (root / "RUNBOOK.md").read_text()
    found = re.split(r"^## ", text, flags=re.M)[1:]
    return {part.split("\n", 1)[0].strip().lower(): part for part in found}


def test_every_alert_links_to_a_runbook_section_with_meaning_first_look_remedies_and_escalation(root: Path) -> None:
    runbook = sections(root)
    for rule in alert_rules():
        anchor = str(rule["annotations"]["runbook_url"]).rsplit("#", 1)[1]
        assert anchor in runbook, f"RUNBOOK.md has no section for {rule['alert']}"
        assert all(part in runbook[anchor] for part in PARTS), f"{rule['alert']} lacks a part"


def test_the_runbook_has_no_section_for_an_alert_that_does_not_exist(root: Path) -> None:
    assert set(sections(root)) == {str(rule["alert"]).lower() for rule in alert_rules()}
