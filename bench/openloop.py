"""An open-loop load generator: requests sent on a schedule fixed in advance, whatever the
server does, with latency measured from each request's scheduled time.

A closed loop (send, wait, send the next) slows down with the server and hides its queueing;
here request i is due at start + i / rate, and if the client is held up (every connection busy,
or the event loop behind) that wait counts, as it would for a shop whose webhooks arrive on
their own schedule. asyncio with one aiohttp session and `connections` keep-alive connections,
each driven by one sender. aiohttp rather than httpx: on this machine httpx's async client
spent about 4 ms of CPU per request, five times what the bare endpoint spends answering it, so
the load generator, not the server, saturated first; aiohttp is in the `bench` extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from bench.measure import percentile


@dataclass
class LoadResult:
    target: str
    rate: float  # offered requests per second
    sent: int
    ok: int  # answered with the expected status
    errors: int
    p50: float | None  # seconds from the scheduled send to the answer
    p99: float | None
    max: float | None
    achieved: float  # answered ok per second, from the first scheduled send to the last answer
    seconds: float
    cpu: dict[str, float]


async def _run(
    url: str,
    path: str,
    bodies: list[bytes],
    rate: float,
    headers: dict[str, str],
    connections: int,
    expect: int,
) -> tuple[list[float], int, float, float]:
    """`connections` senders, each with its own keep-alive connection, take the next request
    in schedule order, wait for its time if it is not due yet, send it and wait for the answer.
    A request nobody is free to send waits, and that wait counts (latency runs from the
    scheduled time). No request ever queues inside the client's connection pool: a pool with
    thousands of waiters costs the client more CPU than the server it measures."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
        loop = asyncio.get_running_loop()

        async def warm() -> None:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get("/__warm__") as response:
                    await response.read()

        await asyncio.gather(*(warm() for _ in range(connections)))  # open the connections
        t0 = loop.time() + 0.2
        wall0 = time.time() + 0.2
        latencies: list[float] = []
        errors = 0
        last = t0
        upcoming = iter(range(len(bodies)))

        async def sender() -> None:
            nonlocal errors, last
            for i in upcoming:  # shared: each request is taken by exactly one sender
                scheduled = t0 + i / rate
                delay = scheduled - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    async with session.post(path, data=bodies[i], headers=headers) as response:
                        await response.read()
                        good = response.status == expect
                except (TimeoutError, aiohttp.ClientError):
                    good = False
                now = loop.time()
                last = max(last, now)
                if good:
                    latencies.append(now - scheduled)
                else:
                    errors += 1

        await asyncio.gather(*(sender() for _ in range(connections)))
        return sorted(latencies), errors, last - t0, wall0


def run_load(
    target: str,
    url: str,
    path: str,
    bodies: list[bytes],
    rate: float,
    headers: dict[str, str],
    connections: int = 16,
    expect: int = 202,
) -> tuple[LoadResult, float]:
    """Send every body at `rate` per second; returns the result (cpu left empty) and the wall
    time of the first scheduled send."""
    latencies, errors, span, wall0 = asyncio.run(
        _run(url, path, bodies, rate, headers, connections, expect)
    )
    ok = len(latencies)
    return LoadResult(
        target,
        rate,
        len(bodies),
        ok,
        errors,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        latencies[-1] if latencies else None,
        ok / span if span > 0 else 0.0,
        span,
        {},
    ), wall0
