"""Hosts of a test's own: network namespaces on this machine, each joined by a veth pair to a
bridge in the root namespace, which carries the one address the servers listen on.

    with Network.create(hosts=2) as net:        # NetworkUnavailable where not permitted
        redis-server --bind 127.0.0.1 <net.address>
        Popen([*net.run_in(0), "python", ...])   # a process on host 0
        net.cut(0) ... net.restore(0)            # host 0's link down, then up again

A host reaches the root namespace (and nothing else) through its link; cutting the link is a
partition as a failed switch makes it: packets vanish, nothing is refused. (Each host knows the
bridge's hardware address for good, so even its address look-ups do not fail fast: its
connections hang until their own timeouts, as they do behind a real partition.) Names
carry a random tag and the subnet (10.231.X.0/24) is one no interface here uses yet, so runs
side by side do not meet; everything is removed on `close` (the context manager's exit), even
when the test failed.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess

from tests.support.lifetime import StoppedOnExit

SUBNET_PREFIX = "10.231"


class NetworkUnavailable(Exception):
    """Namespaces can't be made here (not root, no `ip`): the test that needs them skips."""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


class Network(StoppedOnExit):
    def __init__(self, tag: str, subnet: int) -> None:
        self.tag = tag
        self.bridge = f"ob{tag}br"
        self.subnet = f"{SUBNET_PREFIX}.{subnet}"
        self.address = f"{self.subnet}.1"  # the root namespace's side, where servers listen
        self.bridge_mac = "02:" + ":".join(tag[i : i + 2] for i in range(0, 6, 2)) + ":00:01"
        self.namespaces: list[str] = []
        self.links: list[str] = []  # the root side of each host's veth pair

    @classmethod
    def create(cls, hosts: int) -> Network:
        if os.geteuid() != 0:
            raise NetworkUnavailable("network namespaces need root")
        if shutil.which("ip") is None:
            raise NetworkUnavailable("no `ip` command (iproute2)")
        net = cls(secrets.token_hex(3), _free_subnet())
        try:
            _ip("link", "add", net.bridge, "type", "bridge")
            _ip("link", "set", net.bridge, "address", net.bridge_mac)
            _ip("addr", "add", f"{net.address}/24", "dev", net.bridge)
            _ip("link", "set", net.bridge, "up")
            for index in range(hosts):
                net._add_host(index)
        except subprocess.CalledProcessError as exc:
            net.stop()
            raise NetworkUnavailable(f"`ip {' '.join(exc.cmd[1:])}`: {exc.stderr.strip()}") from exc
        except BaseException:
            net.stop()
            raise
        return net

    def _add_host(self, index: int) -> None:
        namespace, link, inside = f"ob-{self.tag}-h{index}", f"ob{self.tag}h{index}", "eth0"
        _ip("netns", "add", namespace)
        self.namespaces.append(namespace)
        _ip("link", "add", link, "type", "veth", "peer", "name", f"ob{self.tag}n{index}")
        self.links.append(link)
        _ip("link", "set", f"ob{self.tag}n{index}", "netns", namespace, "name", inside)
        _ip("link", "set", link, "master", self.bridge)
        _ip("link", "set", link, "up")
        _ip("-n", namespace, "addr", "add", f"{self.host_address(index)}/24", "dev", inside)
        _ip("-n", namespace, "link", "set", inside, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        neighbour = [self.address, "lladdr", self.bridge_mac, "dev", inside, "nud", "permanent"]
        _ip("-n", namespace, "neigh", "replace", *neighbour)

    def host_address(self, index: int) -> str:
        return f"{self.subnet}.{index + 2}"

    def run_in(self, index: int) -> list[str]:
        """The command prefix that runs a program on host `index`."""
        return ["ip", "netns", "exec", self.namespaces[index]]

    def cut(self, index: int) -> None:
        """Host `index` loses its link: its packets are dropped, in both directions."""
        _ip("link", "set", self.links[index], "down")

    def restore(self, index: int) -> None:
        _ip("link", "set", self.links[index], "up")

    def stop(self) -> None:
        """Remove the namespaces (their veth pairs go with them) and the bridge. Processes
        still inside a namespace keep it alive until they end: stop them first."""
        for namespace in self.namespaces:
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True, timeout=10)
        for link in self.links:  # normally gone with the namespace
            subprocess.run(["ip", "link", "delete", link], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, timeout=10)


def _free_subnet() -> int:
    """A 10.231.X.0/24 no interface of this machine has an address in."""
    used = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, timeout=10
    ).stdout
    free = [x for x in range(1, 255) if f" {SUBNET_PREFIX}.{x}." not in used]
    if not free:
        raise NetworkUnavailable(f"no free {SUBNET_PREFIX}.X.0/24 subnet")
    return random.choice(free)
