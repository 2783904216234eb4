"""Persistence: SQLModel tables, the async engine, repositories and the shipped Alembic migrations."""
