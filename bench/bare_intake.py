"""The yardstick for the intake: a FastAPI endpoint that only answers 202.

    python -m bench.bare_intake PORT

Same route as the intake's order endpoint, started the way `orderbridge intake` starts
(`uvicorn.run`, one process, log level warning, lifespan off), so that the difference in accept
latency between the two is what the intake does per order (token, parse, validate, Redis, send).
It reads the body (any server has to) and answers a small JSON, nothing else.
"""

from __future__ import annotations

import sys

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def create_app() -> FastAPI:
    app = FastAPI(title="bare 202")

    @app.post("/v1/connections/{name}/orders", status_code=202)
    async def accept(name: str, request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"job_id": "bare", "state": "queued"}, status_code=202)

    return app


def main(argv: list[str]) -> int:
    import uvicorn

    uvicorn.run(
        create_app(), host="127.0.0.1", port=int(argv[0]), log_level="warning", lifespan="off"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
