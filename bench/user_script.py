"""The sequential script: one process, one order after another, the same calls as the user's
chain (`bench.user_erp.transfer`).

    BENCH_SIM_URL=http://127.0.0.1:PORT python -m bench.user_script ORDERS.json

Reads a JSON list of canonical orders (what the benchmark would post to the intake), waits for
a line on stdin (so the benchmark starts the clock only once the process is up and imported),
then transfers every order. The whole batch is there from the start, so every order's "accept"
time is the start (as the chain's orders are all sent within the first seconds and wait in the
queue): its accept-to-draft latency includes the wait behind the orders before it. The timings
go to Redis like the chain's. Once done it waits for stdin to close, so the benchmark can read
its CPU time and peak memory in /proc.
"""

from __future__ import annotations

import json
import sys
import time

from bench import user_erp


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as source:
        orders = json.load(source)
    user_erp.token()  # warm: the import, the connection, the token
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.time()
    for order in orders:
        user_erp.transfer(order, start)
    sys.stdin.readline()  # stay until the benchmark has read our CPU time and peak memory
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
