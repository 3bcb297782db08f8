"""Hosts for the multi-host fault tests, without containers: network namespaces joined by veth pairs, each with its
own address. `Hosts` makes them and removes them; `available()` says why they cannot be made here (not root, no
`ip`, namespaces not permitted), so the tests skip with that reason instead of failing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Optional

import services


def ip(*arguments: str, namespace: Optional[str] = None) -> None:
    command = ["ip", *(["-n", namespace] if namespace else []), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")


def available() -> Optional[str]:
    """None when namespaces and veth pairs can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root (ip netns, veth pairs)"
    if shutil.which("ip") is None:
        return "no `ip` command (Debian: iproute2)"
    probe = f"l2s-probe-{os.getpid()}"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        return f"`ip netns add` is not permitted here: {done.stderr.strip()}"
    try:
        link = subprocess.run(["ip", "-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1"],
                              capture_output=True, text=True, timeout=10)
        if link.returncode != 0:
            return f"veth pairs are not permitted here: {link.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "delete", probe], capture_output=True, timeout=10)
    return None


class Hosts:
    """Namespace `hub` (router and encoder) linked to the test's own namespace (the clients) and to one namespace
    per decoder host, each link a veth pair on its own /24: 10.S.N.1 on the hub side, 10.S.N.2 on the other (S from
    the pid, so two runs at once do not share addresses in the test's namespace)."""

    def __init__(self, others: list[str]) -> None:
        tag = f"{os.getpid() % 100000}"
        subnet = 200 + os.getpid() % 50
        self.prefix = f"l2s{tag}"
        self.hub = f"{self.prefix}-hub"
        self.namespaces = [self.hub] + [f"{self.prefix}-{name}" for name in others]
        self.address: dict[str, str] = {}  # the address of each host's side of its link to the hub
        self.hub_address: dict[str, str] = {}  # the hub's address on that link
        self.link: dict[str, str] = {}  # the interface on the host's side, to cut
        try:
            for namespace in self.namespaces:
                ip("netns", "add", namespace)
                ip("link", "set", "lo", "up", namespace=namespace)
            for number, name in enumerate(["client", *others], start=1):
                hub_side, far_side = f"{self.prefix}h{number}", f"{self.prefix}f{number}"
                far = None if name == "client" else f"{self.prefix}-{name}"
                ip("link", "add", hub_side, "netns", self.hub, "type", "veth", "peer", "name", far_side,
                   *(["netns", far] if far else []))
                ip("addr", "add", f"10.{subnet}.{number}.1/24", "dev", hub_side, namespace=self.hub)
                ip("addr", "add", f"10.{subnet}.{number}.2/24", "dev", far_side, namespace=far)
                ip("link", "set", hub_side, "up", namespace=self.hub)
                ip("link", "set", far_side, "up", namespace=far)
                self.address[name] = f"10.{subnet}.{number}.2"
                self.hub_address[name] = f"10.{subnet}.{number}.1"
                self.link[name] = far_side
        except BaseException:
            self.remove()
            raise

    def namespace(self, host: str) -> str:
        return self.hub if host == "hub" else f"{self.prefix}-{host}"

    def cut(self, host: str) -> None:
        """Takes the host's side of its link down: nothing passes either way until `restore`."""
        ip("link", "set", self.link[host], "down", namespace=self.namespace(host))

    def restore(self, host: str) -> None:
        ip("link", "set", self.link[host], "up", namespace=self.namespace(host))

    def remove(self) -> None:
        """Deletes the namespaces (and with them every veth pair); the client-side ends go with their peers."""
        for namespace in getattr(self, "namespaces", []):
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True, timeout=10)


class HostProcess:
    """`l2s ARGUMENTS` inside a host's namespace (`ip netns exec` execs it: the pid is l2s's), logging to a file."""

    def __init__(self, hosts: Hosts, host: str, *arguments: str) -> None:
        self.name = f"{arguments[0]}@{host}"
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(["ip", "netns", "exec", hosts.namespace(host), str(services.l2s_binary()),
                                         *arguments], stdout=subprocess.DEVNULL, stderr=self.log,
                                        start_new_session=True)

    def signal(self, number: int) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, number)

    def stop(self) -> None:
        """SIGCONT (it may be frozen), SIGTERM twice (no drain), SIGKILL after STOP_TIMEOUT_S."""
        import signal as signals
        if self.process.poll() is None:
            for number in (signals.SIGCONT, signals.SIGTERM, signals.SIGTERM):
                self.signal(number)
            try:
                self.process.wait(services.STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(services.STOP_TIMEOUT_S)
        if not self.log.closed:
            self.log.close()

    def log_text(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")
