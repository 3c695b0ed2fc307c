"""The fleet's one process: every host's ports bound and answered by one asyncio loop."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

from ..certs import self_signed, write_pair
from .hosts import FleetError, FleetHost, Kind, hosts
from .sessions import SESSIONS, Silent, tls_context

#: File descriptors for connections, on top of one per listening socket.
CONNECTION_HEADROOM = 4096
#: What the server prints once every socket listens.
READY = "fleet: listening:"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed RSA-2048 certificate signed with SHA-256, valid from yesterday for a
    year, written as ``fleet.crt`` / ``fleet.key`` (PEM) into ``directory``."""
    cert, key = self_signed("fleet.mailtls.test", ["fleet.mailtls.test"], organization="mailtls fleet")
    return write_pair(directory, "fleet", cert, key)


def _factory(
    host: FleetHost, port: int, context: ssl.SSLContext, tasks: set[asyncio.Task[None]]
) -> Callable[[], asyncio.Protocol]:
    if host.kind is Kind.SILENT:
        return Silent
    session = SESSIONS[port]
    tls = context if host.kind is Kind.STARTTLS else None
    return lambda: session(host, tls, tasks)


def _raise_file_limit(needed: int) -> None:
    """Raise the soft descriptor limit as far as the hard one allows (more room for bursts of
    connections), or past it if we may; fail if even that leaves fewer than ``needed``."""
    unlimited = resource.RLIM_INFINITY
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != unlimited and hard < needed:
        try:  # root may raise the hard limit too (up to fs.nr_open)
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
        except (ValueError, OSError):
            raise FleetError(f"need {needed} file descriptors, the hard limit is {hard}") from None
        return
    target = hard if hard != unlimited else needed
    if soft != unlimited and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _listening_socket(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))  # a numeric address: no resolver involved
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise FleetError(f"cannot listen on {address}:{port}: {exc.strerror}") from None
    return sock


def _quiet_exceptions(limit: int = 20) -> Callable[[asyncio.AbstractEventLoop, dict[str, object]], None]:
    """Log the first few unexpected errors, then only count them: a scan makes thousands of connections."""
    seen = 0

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        nonlocal seen
        seen += 1
        if seen <= limit:
            loop.default_exception_handler(context)
        elif seen % 1000 == 0:
            print(f"fleet: {seen} errors so far", file=sys.stderr, flush=True)

    return handler


async def serve(n: int, workdir: Path, *, exit_with_parent: bool = False) -> None:
    """Bind every fleet host's ports and answer until SIGTERM or SIGINT (or the parent exits)."""
    fleet_hosts = hosts(n)
    listeners = [(h, p) for h in fleet_hosts for p in h.ports]
    _raise_file_limit(len(listeners) + CONNECTION_HEADROOM)
    context = tls_context(*make_certificate(workdir))
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_exceptions())
    tasks: set[asyncio.Task[None]] = set()
    servers = []
    for host, port in listeners:
        sock = _listening_socket(host.address, port)
        servers.append(await loop.create_server(_factory(host, port, context, tasks), sock=sock, backlog=128))
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    print(f"{READY} {n} hosts, {len(servers)} listening sockets, pid {os.getpid()}", flush=True)
    parent = os.getppid()
    while not stopping.is_set():
        try:
            await asyncio.wait_for(stopping.wait(), timeout=0.5)
        except asyncio.TimeoutError:
            if exit_with_parent and os.getppid() != parent:
                break
    for server in servers:
        server.close()
    print("fleet: stopped", flush=True)


