"""A RabbitMQ cluster of our own: three nodes on this machine, for failover runs.

Each node is a `rabbitmq-server` of its own: its own node name (`<prefix>N@localhost`), AMQP
and distribution ports, data and log directories, config and Erlang cookie, all under the
run's directory; none of it is the machine's node (`rabbit@...`), which is never joined,
stopped or changed. The nodes register with the machine's epmd, as any Erlang node does.
Nodes 2 and 3 join node 1 with `rabbitmqctl join_cluster`. `kill` SIGKILLs a node's whole
process group (the Erlang VM and its helpers), `restart` starts it again on the same data
(it rejoins by itself), `stop` kills every node; the run's directory holds what is left.

The client side needs nothing but the URL: `url` lists every node
(`amqp://...:p1//;amqp://...:p2//;...`), and kombu moves to the next one when a node goes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from workers.processes import free_port, port_open, wait_until

SBIN = Path("/usr/lib/rabbitmq/bin")  # the scripts themselves, not the wrapper that su's
CTL_TIMEOUT = 60


def available() -> bool:
    return (SBIN / "rabbitmq-server").exists() and (SBIN / "rabbitmqctl").exists()


@dataclass
class Node:
    index: int
    name: str  # e.g. obc1a2b@localhost
    port: int
    dist_port: int
    home: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class RabbitCluster:
    def __init__(self, base: Path, size: int = 3) -> None:
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        prefix = f"obc{uuid.uuid4().hex[:6]}"
        cookie = self.base / ".erlang.cookie"
        cookie.write_text(uuid.uuid4().hex)
        cookie.chmod(0o400)
        self.nodes = [
            Node(i, f"{prefix}{i}@localhost", free_port(), free_port(), self.base / f"node{i}")
            for i in range(1, size + 1)
        ]
        for node in self.nodes:
            node.home.mkdir(exist_ok=True)
            (node.home / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's
            (node.home / "enabled_plugins").write_text("[].\n")
            (node.home / "rabbitmq.conf").write_text(
                f"listeners.tcp.local = 127.0.0.1:{node.port}\n"
            )
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return ";".join(node.url for node in self.nodes)

    def env(self, node: Node) -> dict[str, str]:
        home = node.home
        return {
            **os.environ,
            "HOME": str(self.base),  # its .erlang.cookie, shared by the nodes and rabbitmqctl
            "RABBITMQ_CONF_ENV_FILE": str(home / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_PORT": str(node.port),
            "RABBITMQ_DIST_PORT": str(node.dist_port),
            "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(home / "log"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    # --- life cycle ------------------------------------------------------------------------
    def start(self, timeout: float = 180) -> None:
        """Every node up, then nodes 2.. joined to node 1 (in parallel)."""
        for node in self.nodes:
            self._spawn(node)
        for node in self.nodes:
            self._wait_up(node, timeout)
        first = self.nodes[0]
        errors: list[BaseException] = []

        def join(node: Node) -> None:
            try:
                self.ctl(node, "stop_app")
                self.ctl(node, "join_cluster", first.name)
                self.ctl(node, "start_app")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=join, args=(n,)) for n in self.nodes[1:]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        running = self.running_nodes(first)
        if sorted(running) != sorted(n.name for n in self.nodes):
            raise RuntimeError(f"the cluster did not form: running {running}")

    def _spawn(self, node: Node) -> None:
        log = open(node.home / "server.out", "ab")
        node.proc = subprocess.Popen(
            [str(SBIN / "rabbitmq-server")],
            env=self.env(node),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killed whole
        )
        log.close()

    def _wait_up(self, node: Node, timeout: float) -> None:
        wait_until(lambda: port_open(node.port), timeout, f"RabbitMQ node {node.name}")
        self.ctl(node, "await_startup")

    def kill(self, node: Node) -> None:
        """SIGKILL the node (the VM and its helper processes): no goodbye to its peers."""
        if node.proc is not None and node.proc.poll() is None:
            os.killpg(node.proc.pid, signal.SIGKILL)
            node.proc.wait(timeout=10)

    def restart(self, node: Node, timeout: float = 120) -> None:
        """Start a killed node again on its data: it rejoins the cluster by itself."""
        self.kill(node)
        self._spawn(node)
        self._wait_up(node, timeout)

    def stop(self) -> None:
        for node in self.nodes:
            try:
                self.kill(node)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass

    def remove_data(self) -> None:
        for node in self.nodes:
            shutil.rmtree(node.home / "mnesia", ignore_errors=True)

    # --- questions -------------------------------------------------------------------------
    def ctl(self, node: Node, *args: str, tool: str = "rabbitmqctl") -> str:
        done = subprocess.run(
            [str(SBIN / tool), "-n", node.name, *args],
            env=self.env(node),
            capture_output=True,
            text=True,
            timeout=CTL_TIMEOUT,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} on {node.name}: {done.stderr.strip()}")
        return done.stdout

    def any_alive(self) -> Node:
        return next(node for node in self.nodes if node.alive)

    def running_nodes(self, asked: Node | None = None) -> list[str]:
        out = self.ctl(asked or self.any_alive(), "cluster_status", "--formatter", "json")
        found = re.search(r'"running_nodes":\s*\[([^\]]*)\]', out)
        return re.findall(r'"([^"]+)"', found.group(1)) if found else []

    def leader(self, queue: str) -> Node:
        """The node that leads the quorum queue `queue` now."""
        out = self.ctl(
            self.any_alive(), "list_queues", "name", "leader", "--quiet", "--no-table-headers"
        )
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return next(node for node in self.nodes if node.name == parts[1])
        raise LookupError(f"no leader known for {queue}")

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)
