"""Run a simulator under a real uvicorn server for a test, the way connectors will meet it.

Real HTTP matters: the connection-drop fault and throttling only behave truthfully over a socket.
The server gets a socket already bound to a free port, so there is no race for the port, and we
wait for it to accept connections by polling with a deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 10.0


@contextmanager
def running(app: ASGIApp, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` on a free port in a background thread; yields its base URL."""
    # IPPROTO_TCP explicitly: asyncio only turns Nagle off for sockets that say they are TCP,
    # and with Nagle on, every keep-alive response stalls about 40 ms on delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", http="h11", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sim-{port}", daemon=True
    )
    thread.start()
    try:
        _wait_until_accepting(host, port, thread)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_S)
        sock.close()


def _wait_until_accepting(host: str, port: int, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the simulator server stopped while starting")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.01)
    raise TimeoutError(f"simulator on {host}:{port} did not accept connections in time")
