"""The connector's HTTP client keeps a connection pool per thread (see connectors.http)."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from connectors.http import PerThreadTransport, build_client


class Pool(httpx.MockTransport):
    def __init__(self) -> None:
        super().__init__(lambda request: httpx.Response(200, text=request.url.path))
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_each_thread_gets_a_pool_of_its_own_and_keeps_it() -> None:
    made: list[Pool] = []

    def factory() -> Pool:
        made.append(Pool())
        return made[-1]

    client = httpx.Client(transport=PerThreadTransport(factory))
    assert client.get("http://erp.test/a").text == "/a"
    assert client.get("http://erp.test/b").text == "/b"
    assert len(made) == 1  # the same thread reuses its pool
    answers: list[str] = []
    gate = threading.Barrier(3)

    def call(path: str) -> None:
        gate.wait()  # all three threads alive at once: three pools
        answers.append(client.get(f"http://erp.test/{path}").text)

    threads = [threading.Thread(target=call, args=(p,)) for p in ("x", "y", "z")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == ["/x", "/y", "/z"] and len(made) == 4
    main_pool = made[0]
    client.close()
    assert main_pool.closed
    assert client.is_closed


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as ERPs answer
    peers: list[int] = []

    def do_GET(self) -> None:
        Echo.peers.append(self.client_address[1])
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_default_client_keeps_one_connection_alive_per_thread() -> None:
    """build_client without a transport, against a real server on loopback: every thread's
    requests go over its own kept-alive connection, and every call is observed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Echo.peers = []
    seen: list[tuple[str, str, int | None]] = []
    client = build_client(timeout=5, observer=lambda *call: seen.append(call))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    answers: list[str] = []
    gate = threading.Barrier(4)

    def calls(name: str) -> None:
        gate.wait()
        for i in range(3):
            answers.append(client.get(f"{url}/{name}/{i}").text)

    threads = [threading.Thread(target=calls, args=(n,)) for n in "abcd"]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        client.close()
        server.shutdown()
        server.server_close()
    assert sorted(answers) == sorted(f"/{n}/{i}" for n in "abcd" for i in range(3))
    assert len(seen) == 12 and {s[2] for s in seen} == {200}
    assert len(set(Echo.peers)) == 4  # one connection per thread, each reused


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux only")
def test_the_default_client_gives_up_unacknowledged_bytes_after_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request written while the network is away must not reach the ERP long after the
    client gave up (connectors.http): the client's sockets carry TCP_USER_TIMEOUT = timeout."""
    options: list[tuple[int, int, int]] = []
    real = socket.socket.setsockopt

    def recording(sock: socket.socket, level: int, name: int, value: int) -> None:
        options.append((level, name, value))
        real(sock, level, name, value)

    monkeypatch.setattr(socket.socket, "setsockopt", recording)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = build_client(timeout=7)
    try:
        assert client.get(f"http://127.0.0.1:{server.server_address[1]}/x").text == "/x"
    finally:
        client.close()
        server.shutdown()
        server.server_close()
    assert (socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 7000) in options
