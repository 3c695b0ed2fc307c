"""The fleet seen from the process that starts it: ``start`` runs the server as a process of
its own and waits until every port accepts; ``Fleet`` stops it; ``nmap_command`` scans it."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from .hosts import DEFAULT_HOSTS, MAIL_PORTS, FleetError, FleetHost, hosts
from .server import READY

DEFAULT_WORKDIR = "/tmp/mailtls-fleet"
LOCK_FILE = "/tmp/mailtls-fleet.lock"
START_TIMEOUT = 30.0
#: Readiness probes in flight at once (each holds a descriptor in the server until it is closed).
_POLL_CHUNK = 500


def nmap_command(addresses: Iterable[str], xml_path: str | os.PathLike[str]) -> list[str]:
    """One nmap run over fleet hosts with mailtls's options and scripts (no -sV, no DNS, no
    ping), the hosts on the command line."""
    from mailtls.scan.options import ScanOptions
    from mailtls.scan.runner import NmapJob, nmap_arguments
    from mailtls.scan.targets import parse_target

    targets = [parse_target(a) for a in addresses]
    job = NmapJob(tuple(targets), ScanOptions())
    return ["nmap", "-oX", os.fspath(xml_path), *nmap_arguments(job), *(t.value for t in targets)]



class Fleet:
    """A running fleet server (returned by :func:`start`); a context manager that stops it on exit."""

    def __init__(
        self, process: subprocess.Popen[bytes], workdir: Path, fleet_hosts: list[FleetHost], lock: IO[str] | None = None
    ):
        self.process = process
        self._lock = lock
        self.workdir = workdir
        self.hosts = fleet_hosts
        self.log = workdir / "fleet.log"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def addresses(self) -> list[str]:
        return [h.address for h in self.hosts]

    def rss_bytes(self) -> int:
        """The server process's resident set size now (Linux /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise FleetError("no VmRSS for the fleet process")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the server and wait until its process is gone (safe to call twice)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._lock is not None:
            self._lock.close()  # releases the machine-wide fleet lock
            self._lock = None

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Fleet({len(self.hosts)} hosts, pid {self.pid}, {str(self.workdir)!r})"


def start(
    n: int = DEFAULT_HOSTS, workdir: str | os.PathLike[str] | None = None, *, timeout: float = START_TIMEOUT
) -> Fleet:
    """Start ``python -m lab.fleet serve --hosts n`` and wait until every listening port accepts.

    ``workdir`` (default /tmp/mailtls-fleet, or $MAILTLS_FLEET_DIR) gets the server's log
    and its certificate. The server exits by itself if the calling process dies. Raises
    FleetError, with the server's log tail, if it exits early, if a port does not accept
    within ``timeout`` seconds, or if a port that must be closed answers (another
    server holds the address).
    """
    fleet_hosts = hosts(n)
    # One fleet per machine at a time (its addresses are fixed): wait for the one running.
    lock = open(LOCK_FILE, "w")  # held until Fleet.stop()
    fcntl.flock(lock, fcntl.LOCK_EX)
    root = Path(workdir or os.environ.get("MAILTLS_FLEET_DIR") or DEFAULT_WORKDIR).resolve()
    root.mkdir(parents=True, exist_ok=True)
    project = Path(__file__).resolve().parent.parent.parent
    command = [
        sys.executable,
        "-m",
        "lab.fleet",
        "serve",
        "--hosts",
        str(n),
        "--workdir",
        str(root),
        "--exit-with-parent",
    ]
    with open(root / "fleet.log", "wb") as log:
        process = subprocess.Popen(command, cwd=project, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    fleet = Fleet(process, root, fleet_hosts, lock)
    try:
        _wait_until_listening(fleet, time.monotonic() + timeout)
        _check_closed_ports(fleet)
    except BaseException:
        fleet.stop()
        raise
    return fleet


def _connects(address: str, port: int, timeout: float = 1.0) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
        except OSError:
            return False
        return True


def _wait_until_listening(fleet: Fleet, deadline: float) -> None:
    # First the server's own word that it bound everything: ports that accept before it
    # could belong to a fleet left running by someone else (ours would then fail to bind).
    while READY not in fleet.log_tail(5):
        _check_alive(fleet, deadline, "the server never said it was ready")
        time.sleep(0.05)
    pending = [(h.address, p) for h in fleet.hosts for p in h.ports]
    while pending:
        waiting = []
        for start in range(0, len(pending), _POLL_CHUNK):
            chunk = pending[start : start + _POLL_CHUNK]
            waiting += [(a, p) for a, p in chunk if not _connects(a, p)]
            _let_server_catch_up(fleet, deadline)
        pending = waiting
        if pending:
            some = ", ".join(f"{a}:{p}" for a, p in pending[:5])
            _check_alive(fleet, deadline, f"{len(pending)} port(s) still not accepting (e.g. {some})")
            time.sleep(0.05)


def _check_alive(fleet: Fleet, deadline: float, late: str) -> None:
    if fleet.process.poll() is not None:
        raise FleetError(f"the fleet server exited ({fleet.process.returncode})\n{fleet.log_tail()}")
    if time.monotonic() > deadline:
        raise FleetError(f"{late}\n{fleet.log_tail()}")


def _let_server_catch_up(fleet: Fleet, deadline: float) -> None:
    """Wait until the server has accepted and closed the poll's connections.

    Every connection the poll makes takes a descriptor in the server until it has seen
    the poll hang up; thousands at once would exhaust its descriptors, and asyncio
    (3.11) then retries accept() in a loop that starves everything else.
    """
    listeners = sum(len(h.ports) for h in fleet.hosts)
    while True:
        try:
            in_use = len(os.listdir(f"/proc/{fleet.pid}/fd"))
        except OSError:  # no /proc: pace by time instead
            time.sleep(0.05)
            return
        if in_use < listeners + _POLL_CHUNK:
            return
        _check_alive(fleet, deadline, f"the server still has {in_use - listeners} connections open")
        time.sleep(0.01)


def _check_closed_ports(fleet: Fleet) -> None:
    for host in fleet.hosts:
        for port in MAIL_PORTS:
            if port not in host.ports and _connects(host.address, port):
                raise FleetError(f"{host.address}:{port} must be closed, but something accepts there")


