"""The baseline of the HTTP benchmark: FastAPI + uvicorn inserting one row per request with asyncpg."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(os.environ["BENCH_PG_DSN"], min_size=4, max_size=20)
    await pool.execute("CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, body text NOT NULL)")
    app.state.pool = pool
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/insert")
async def insert(request: Request) -> dict[str, int]:
    row_id = await request.app.state.pool.fetchval(
        "INSERT INTO bench_rows (body) VALUES ($1) RETURNING id", (await request.body()).decode()
    )
    return {"id": int(row_id)}
