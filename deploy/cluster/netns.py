"""Linux network namespaces as "hosts" for the one-machine cluster (iproute2, as root).

One namespace per host, plus one holding the bridge they are all plugged into (the
switch), so that no device is created in the root namespace but one: a veth from the
root namespace to the bridge, with the first address of the cluster's /24, through which
the operator (a test, `make cluster`) reaches HAProxy, the ops ports and Redis::

    root ns: sb<pid>r 10.X.Y.1 ──veth── [ns sb<pid>br: bridge br0] ──veth── eth0 of each host

Names carry the creating process's id (`sb<pid><role>`), so parallel runs do not collide
and a run killed before its teardown is swept by the next one (`sweep_stale`): its pid is
dead. The processes a run started die with it (PR_SET_PDEATHSIG), so a stale namespace
holds nothing but its devices. Deleting the bridge namespace destroys the veths in it,
and with each its other end (ip-netns(8), veth(4)).

Errors: `NetnsError` when an `ip` command fails, with the command and its stderr.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

IP: Final = "ip"
PREFIX: Final = "sb"
BRIDGE_ROLE: Final = "br"
ROOT_SUFFIX: Final = "r"
_NAME = re.compile(rf"^{PREFIX}(\d+)([a-z][a-z0-9]*)$")
_ROOT_LINK = re.compile(rf"^{PREFIX}(\d+){ROOT_SUFFIX}$")


class NetnsError(RuntimeError):
    """An `ip` command failed."""


def run_ip(*args: str, check: bool = True) -> str:
    """`ip <args>`; its stdout. Bounded: an `ip` command that hangs is a broken machine."""
    done = subprocess.run(  # noqa: S603 - fixed program, arguments we built
        [IP, *args], capture_output=True, text=True, timeout=10, check=False
    )
    if check and done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def netns_exec(namespace: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs `argv` inside `namespace` (ip netns exec execs it in place: the
    child's pid is the program's, and PR_SET_PDEATHSIG set before survives the exec)."""
    return [IP, "netns", "exec", namespace, *argv]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> list[str]:
    """Delete the namespaces and root links of earlier runs whose process is gone; what was
    deleted. Only names of this module's pattern are looked at."""
    removed: list[str] = []
    for line in run_ip("netns", "list").splitlines():
        name = line.split()[0] if line.strip() else ""
        m = _NAME.match(name)
        if m and not _alive(int(m.group(1))):
            run_ip("netns", "delete", name, check=False)
            removed.append(name)
    for link in json.loads(run_ip("-j", "link", "show") or "[]"):
        name = str(link.get("ifname", ""))
        m = _ROOT_LINK.match(name)
        if m and not _alive(int(m.group(1))):
            run_ip("link", "delete", name, check=False)
            removed.append(name)
    return removed


def _routed_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 destination the root namespace routes or has an address in."""
    nets: list[ipaddress.IPv4Network] = []
    for route in json.loads(run_ip("-j", "-4", "route", "show", "table", "all") or "[]"):
        dst = str(route.get("dst", ""))
        if dst and dst != "default":
            with contextlib.suppress(ValueError):
                nets.append(ipaddress.IPv4Network(dst, strict=False))
    for link in json.loads(run_ip("-j", "-4", "addr", "show") or "[]"):
        for a in link.get("addr_info", []):
            with contextlib.suppress(ValueError, KeyError):
                nets.append(ipaddress.IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False))
    return nets


def pick_subnet(
    pid: int, taken: Iterable[ipaddress.IPv4Network] | None = None
) -> ipaddress.IPv4Network:
    """A private /24 in 10.0.0.0/8 that overlaps nothing the root namespace routes (another
    run's root link included), starting from one derived from `pid`."""
    used = list(_routed_networks() if taken is None else taken)
    for i in range(200):
        n = pid + i * 7919
        candidate = ipaddress.IPv4Network(f"10.{100 + n % 150}.{(n // 150) % 256}.0/24")
        if not any(candidate.overlaps(u) for u in used):
            return candidate
    raise NetnsError("no free 10.x.y.0/24 for the cluster: every candidate is routed already")


@dataclass(frozen=True, slots=True, kw_only=True)
class Wire:
    """A host namespace's place on the cluster's LAN."""

    namespace: str
    address: ipaddress.IPv4Address


class Lan:
    """The bridge namespace, the host namespaces plugged into it, and the root link."""

    def __init__(
        self, *, pid: int, subnet: ipaddress.IPv4Network, root_address: ipaddress.IPv4Address
    ) -> None:
        self.pid = pid
        self.subnet = subnet
        self.root_address = root_address
        self.bridge_ns = f"{PREFIX}{pid}{BRIDGE_ROLE}"
        self.root_link = f"{PREFIX}{pid}{ROOT_SUFFIX}"
        self.created: list[str] = []  # namespaces, in order of creation
        self.wires: list[Wire] = []
        self._root_made = False

    def namespace(self, role: str) -> str:
        return f"{PREFIX}{self.pid}{role}"

    def _add_namespace(self, name: str) -> None:
        run_ip("netns", "add", name)
        self.created.append(name)
        run_ip("-n", name, "link", "set", "lo", "up")

    def create_bridge(self) -> None:
        self._add_namespace(self.bridge_ns)
        run_ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        run_ip("-n", self.bridge_ns, "link", "set", "br0", "up")
        # The one device in the root namespace: the operator's way in.
        run_ip("link", "add", self.root_link, "type", "veth", "peer", "name", "root",
               "netns", self.bridge_ns)  # fmt: skip
        self._root_made = True
        self._plug("root")
        run_ip("addr", "add", f"{self.root_address}/{self.subnet.prefixlen}", "dev", self.root_link)
        run_ip("link", "set", self.root_link, "up")

    def _plug(self, port: str) -> None:
        run_ip("-n", self.bridge_ns, "link", "set", port, "master", "br0")
        run_ip("-n", self.bridge_ns, "link", "set", port, "up")

    def add_host(self, role: str, address: ipaddress.IPv4Address) -> Wire:
        """A namespace with `eth0` on the bridge at `address` and `lo` up."""
        ns = self.namespace(role)
        self._add_namespace(ns)
        run_ip("-n", self.bridge_ns, "link", "add", role, "type", "veth", "peer", "name",
               "eth0", "netns", ns)  # fmt: skip
        self._plug(role)
        run_ip("-n", ns, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        run_ip("-n", ns, "link", "set", "eth0", "up")
        wire = Wire(namespace=ns, address=address)
        self.wires.append(wire)
        return wire

    def destroy(self) -> None:
        """Delete every namespace created and the root link; safe to call twice."""
        for ns in reversed(self.created):
            run_ip("netns", "delete", ns, check=False)
        self.created.clear()
        self.wires.clear()
        if self._root_made:  # gone with its peer's namespace already, normally
            run_ip("link", "delete", self.root_link, check=False)
            self._root_made = False


def blackhole(wire: Wire, addresses: Iterable[ipaddress.IPv4Address], *, on: bool) -> None:
    """Inside `wire`'s namespace, drop (or stop dropping) everything sent to `addresses`:
    /32 blackhole routes, so the host's other traffic (customers, call centers) flows on."""
    for a in addresses:
        verb = "add" if on else "delete"
        run_ip("-n", wire.namespace, "route", verb, "blackhole", f"{a}/32", check=on)
