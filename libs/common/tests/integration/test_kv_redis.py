"""The Redis KeyValue meets the shared contract and is atomic across independent clients."""

import asyncio
import sys
from pathlib import Path

from certify_common.kv import RedisKeyValue

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from kv_contract import (
    check_contract,
    check_lost_lock_is_reported,
    check_release_by_a_non_owner_does_nothing,
    check_renewal_must_fit_the_ttl,
    check_renewed_lock_outlasts_its_ttl,
)


async def test_redis_store_meets_the_contract(redis_url: str, redis_prefix: str) -> None:
    kv = RedisKeyValue(redis_url, redis_prefix)
    try:
        await check_contract(kv)
    finally:
        await kv.close()


async def test_sequence_and_set_if_absent_are_atomic_across_clients(redis_url: str, redis_prefix: str) -> None:
    # 100 commands at once open 100 connections: on a loaded machine some take longer than the 2 s default.
    clients = [RedisKeyValue(redis_url, redis_prefix, timeout_s=30) for _ in range(4)]
    try:
        values = await asyncio.gather(*(clients[i % 4].next_in_sequence("nonce", 1) for i in range(100)))
        assert sorted(values) == list(range(1, 101))
        wins = await asyncio.gather(*(clients[i % 4].set("once", str(i), only_if_absent=True) for i in range(40)))
        assert wins.count(True) == 1
    finally:
        for kv in clients:
            await kv.close()


async def test_redis_lock_renewed_while_held_outlasts_its_ttl(redis_url: str, redis_prefix: str) -> None:
    kv = RedisKeyValue(redis_url, redis_prefix)
    try:
        await check_renewed_lock_outlasts_its_ttl(kv)
    finally:
        await kv.close()


async def test_redis_lock_taken_over_is_reported_lost_to_its_first_holder(redis_url: str, redis_prefix: str) -> None:
    kv = RedisKeyValue(redis_url, redis_prefix)
    try:
        await check_lost_lock_is_reported(kv)
    finally:
        await kv.close()


async def test_redis_lock_release_by_a_non_owner_does_nothing(redis_url: str, redis_prefix: str) -> None:
    kv = RedisKeyValue(redis_url, redis_prefix)
    try:
        await check_release_by_a_non_owner_does_nothing(kv)
    finally:
        await kv.close()


def test_redis_lock_refuses_a_renewal_interval_longer_than_half_its_ttl(redis_url: str, redis_prefix: str) -> None:
    check_renewal_must_fit_the_ttl(RedisKeyValue(redis_url, redis_prefix))
