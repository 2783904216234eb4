"""request ids scoped per owner

A request is now identified inside the proxy by ``request_key`` (the former ``request_id`` primary
key, renamed, so every reference, job payload and idempotency key of an existing row stays valid),
and to its client by (``owner``, ``request_id``), unique per owner: ``key:<api key id>`` for keyed
clients, ``open:<terms fingerprint>`` for keyless ones. Columns are renamed in place (PostgreSQL and
SQLite ≥ 3.25 both carry foreign keys, unique constraints and indexes along).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 13:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHILDREN = ("payments", "certifications", "state_transitions", "webhook_deliveries")
_INDEXED = ("state_transitions", "webhook_deliveries")
_JOB_TABLES = ("jobs", "dead_letters")


def _rename_references(old: str, new: str) -> None:
    op.execute(f"ALTER TABLE certification_requests RENAME COLUMN {old} TO {new}")
    for table in _CHILDREN:
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")
    for table in _INDEXED:
        op.drop_index(f"ix_{table}_{old}", table_name=table)
        op.create_index(f"ix_{table}_{new}", table, [new], unique=False)
    for table in _JOB_TABLES:  # payloads are JSON written with sort_keys and no spaces
        # Fixed table and column names from this module, no input: nothing to inject.
        op.execute(f"UPDATE {table} SET payload = REPLACE(payload, '\"{old}\":', '\"{new}\":')")  # noqa: S608  # nosec B608


def upgrade() -> None:
    _rename_references("request_id", "request_key")
    # SQLite adds a NOT NULL column only with a default; PostgreSQL drops it once the rows are filled.
    op.add_column("certification_requests", sa.Column("owner", sa.String(80), nullable=False, server_default=""))
    op.add_column("certification_requests", sa.Column("request_id", sa.String(64), nullable=False, server_default=""))
    op.execute(
        "UPDATE certification_requests SET request_id = request_key, owner = CASE WHEN api_key_id IS NULL "
        "THEN 'open:' || fingerprint ELSE 'key:' || CAST(api_key_id AS VARCHAR(20)) END"
    )
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("certification_requests", "owner", server_default=None)
        op.alter_column("certification_requests", "request_id", server_default=None)
    op.create_index(
        "uq_certification_requests_owner_request_id", "certification_requests", ["owner", "request_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_certification_requests_owner_request_id", table_name="certification_requests")
    op.execute("ALTER TABLE certification_requests DROP COLUMN request_id")
    op.execute("ALTER TABLE certification_requests DROP COLUMN owner")
    _rename_references("request_key", "request_id")
