"""index payments by status (unresolved settlements are counted every few seconds by every replica);
settlement jobs still waiting become unbounded (they are retried until they conclude)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 13:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_status"), ["status"], unique=False)
    # max_attempts 0 is UNBOUNDED (certify_proxy.queue.runner); dead ones come back unbounded when re-queued.
    op.execute(
        sa.text("UPDATE jobs SET max_attempts = 0 WHERE kind = 'settle_reconcile' AND status IN ('queued', 'running')")
    )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_status"))
