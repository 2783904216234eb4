"""``certify-admin``: API keys and the database schema, from a shell next to the proxy's settings."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from certify_proxy.api_keys import create_key, list_keys, revoke_key
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import create_engine, session_factory, transaction
from certify_proxy.store.migrate import head_revisions, upgrade


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="certify-admin", description="Administer a certify proxy's database.")
    groups = parser.add_subparsers(dest="group", required=True)
    keys = groups.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="the key may call admin endpoints")
    revoke = keys.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id", type=int)
    keys.add_parser("list", help="list keys (never the keys themselves)")
    db = groups.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser(
        "upgrade",
        help="apply the migrations shipped with the proxy (once per deployment, before proxies start; "
        "safe to run concurrently: PostgreSQL upgrades take an advisory lock; exits 0 when already at head)",
    )
    return parser


async def _keys(settings: ProxySettings, args: argparse.Namespace) -> int:
    engine = create_engine(settings)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as session:
            if args.action == "create":
                clear, row = await create_key(session, args.name, is_admin=args.admin)
                print(json.dumps({"id": row.id, "name": row.name, "admin": row.is_admin, "api_key": clear}))
                return 0
            if args.action == "revoke":
                done = await revoke_key(session, args.key_id)
                print(json.dumps({"id": args.key_id, "revoked": done}))
                return 0 if done else 1
            for row in await list_keys(session):
                revoked = row.revoked_at.isoformat() if row.revoked_at else None
                print(
                    json.dumps(
                        {
                            "id": row.id,
                            "name": row.name,
                            "prefix": row.prefix,
                            "admin": row.is_admin,
                            "revoked_at": revoked,
                        }
                    )
                )
            return 0
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``certify-admin`` console script."""
    args = _parser().parse_args(argv)
    settings = ProxySettings()
    before = upgrade(settings.database_url)
    if args.group == "db":
        head = sorted(head_revisions())
        print(json.dumps({"upgraded": list(before) != head, "from": list(before), "revision": head}))
        return 0
    return asyncio.run(_keys(settings, args))


if __name__ == "__main__":
    sys.exit(main())
