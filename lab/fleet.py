"""A simulated fleet of mail hosts on loopback: one light process answering for thousands of hosts.

    >>> from lab import fleet
    >>> with fleet.start(64) as running:                 # 64 hosts, every listening port answering
    ...     for host in running.hosts:
    ...         print(host.address, host.kind.value, host.ports, sorted(host.expected))

The real lab (``lab/__init__.py``) runs Dovecot and Postfix on a dozen addresses; this
one answers SMTP (25), POP3 (110) and IMAP (143) itself, with asyncio, on as many
addresses as a scan of a large network needs. Host ``i`` is ``127.100.{i // 250}.{i % 250 + 1}``
(never .0 or .255, and never the real lab's 127.0.0.x). Each host has one :class:`Kind`,
chosen from its index (see :func:`kind_of`), and :attr:`FleetHost.expected` says which
findings ``mailtls`` must report for it, derived from what the rules say.

STARTTLS is a real TLS upgrade (TLS 1.2 and 1.3 only, ECDHE with AES-GCM or
ChaCha20-Poly1305) with one self-signed RSA-2048/SHA-256 certificate made at start.
Nothing is delivered: the servers accept no mail, and every command they do not
implement gets an error reply.

    python -m lab.fleet serve --hosts 1024       # run in the foreground until Ctrl-C
    python -m lab.fleet expected --hosts 64      # the hosts and their expected findings
    python -m lab.fleet addresses --hosts 1024   # one address a line, for nmap -iL
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import enum
import fcntl
import ipaddress
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = [
    "DEFAULT_HOSTS",
    "Fleet",
    "FleetError",
    "FleetHost",
    "Kind",
    "address_of",
    "hosts",
    "kind_of",
    "nmap_command",
    "start",
]

DEFAULT_HOSTS = 1024
#: 250 hosts per /24 (.1 to .250) in 127.100.0.0/16.
HOSTS_PER_BLOCK = 250
MAX_HOSTS = 256 * HOSTS_PER_BLOCK
NETWORK = ipaddress.ip_network("127.100.0.0/16")
DEFAULT_WORKDIR = "/tmp/mailtls-fleet"
LOCK_FILE = "/tmp/mailtls-fleet.lock"
START_TIMEOUT = 30.0

SMTP, POP3, IMAP = 25, 110, 143
MAIL_PORTS = (SMTP, POP3, IMAP)
#: What the scan of the fleet asks nmap for: every standard mail port (the implicit-TLS
#: ones and 587 stay closed on every host) and the scripts mailtls reads.

#: Seconds a "slow" host waits before each greeting: well inside nmap's script timeouts
#: (comm.lua: 6 s + the connect timeout; the capability scripts allow 10 s).
SLOW_GREETING = 2.0
#: Longest command line accepted, CRLF included (RFC 5321 allows 512 for SMTP commands;
#: IMAP has no limit, so be generous but bounded).
MAX_LINE = 2048
#: A session that sends nothing for this long is closed; a silent host holds a
#: connection longer, so that nmap's own timeouts are what ends it.
IDLE_TIMEOUT = 30.0
SILENT_HOLD = 120.0
HANDSHAKE_TIMEOUT = 10.0
#: Error replies after which a session is closed (a client that is not speaking the protocol).
MAX_ERRORS = 20
#: File descriptors for connections, on top of one per listening socket.
CONNECTION_HEADROOM = 4096
#: Readiness probes in flight at once (each holds a descriptor in the server until it is closed).
_POLL_CHUNK = 500
#: What the server prints once every socket listens.
_READY = "fleet: listening:"


class FleetError(RuntimeError):
    """The fleet could not be started; the message ends with the server's log tail."""


class Kind(str, enum.Enum):
    """How one fleet host behaves. The expected findings of each are in ``_EXPECTED``."""

    #: SMTP without STARTTLS, POP3 without STLS (USER offered), IMAP without STARTTLS or LOGINDISABLED.
    PLAINTEXT = "plaintext"
    #: SMTP, POP3 and IMAP each upgrade to TLS; no login is offered before TLS.
    STARTTLS = "starttls"
    #: Nothing listens on the address: the kernel resets every connection.
    CLOSED = "closed"
    #: Only SMTP on 25, plaintext.
    SMTP_ONLY = "smtp_only"
    #: Like plaintext, but every greeting comes SLOW_GREETING seconds late.
    SLOW = "slow"
    #: Accepts connections on 25, 110 and 143 and never sends a byte.
    SILENT = "silent"


# The mix, by host index: a pattern of 16, except that one host in 64 is slow and one in
# 1,024 silent. Per 1,024 hosts: 448 starttls, 367 plaintext, 128 closed, 64 smtp_only,
# 16 slow, 1 silent. Hosts 0-15 hold every kind but silent (15 is slow); host 255 is the
# first silent one, so any fleet of 256 hosts or more has all six.
#
# Slow and silent hosts are rare because of what they cost nmap 7.93 (measured on this
# fleet, 2 CPUs). ssl-cert fetches every certificate under one global mutex (sslcert.lua,
# getCertificate: nmap.mutex("sslcert-cache-mutex")), trying STARTTLS, then TLS, then a
# raw ClientHello on each port, and nmap runs scripts one host group (146 hosts here) at a
# time. On a silent host each try waits out its timeout, and no other host's ssl-cert runs
# meanwhile: the group holding the silent host took 374 s instead of about 50. One slow
# host added about 15 s to a scan of 143 healthy hosts that took 6 s. A scan of all 1,024
# hosts took 670 s, about half of it the silent host and a third the slow ones.
_PATTERN = (
    Kind.PLAINTEXT, Kind.STARTTLS, Kind.PLAINTEXT, Kind.STARTTLS,
    Kind.CLOSED, Kind.STARTTLS, Kind.PLAINTEXT, Kind.STARTTLS,
    Kind.SMTP_ONLY, Kind.STARTTLS, Kind.PLAINTEXT, Kind.STARTTLS,
    Kind.CLOSED, Kind.STARTTLS, Kind.PLAINTEXT, Kind.PLAINTEXT,
)  # fmt: skip
_SLOW_EVERY, _SLOW_SLOT = 64, 15
_SILENT_EVERY, _SILENT_SLOT = 1024, 255

_PORTS = {
    Kind.PLAINTEXT: MAIL_PORTS,
    Kind.STARTTLS: MAIL_PORTS,
    Kind.CLOSED: (),
    Kind.SMTP_ONLY: (SMTP,),
    Kind.SLOW: MAIL_PORTS,
    Kind.SILENT: MAIL_PORTS,
}

_PLAINTEXT_FINDINGS = frozenset(
    {
        # MT103: SMTP on 25 (not submission) with no TLS and no STARTTLS in EHLO.
        ("MT103", SMTP),
        # MT101: POP3 with no TLS and no STLS. MT111: USER is in CAPA before any TLS.
        ("MT101", POP3),
        ("MT111", POP3),
        # MT102: IMAP with no TLS and no STARTTLS. MT112: no LOGINDISABLED before TLS.
        ("MT102", IMAP),
        ("MT112", IMAP),
        # Not MT113: EHLO offers no AUTH. Not MT402: neither EHLO nor HELP names VRFY or EXPN.
        # Not MT105/MT120/MT121: no STARTTLS offered and no implicit-TLS port open.
        # Not MT403: standard ports, and the scan has no -sV (the rule needs a probed service).
        # No TLS, so no MT2xx and no MT3xx.
    }
)

#: (rule id, port) pairs mailtls must report for a host of each kind, from the rules
#: in mailtls/rules/builtin (read, not copied from a scan's output).
_EXPECTED: dict[Kind, frozenset[tuple[str, int]]] = {
    Kind.PLAINTEXT: _PLAINTEXT_FINDINGS,
    Kind.STARTTLS: frozenset(
        {
            # MT302 on every port: nmap reads the certificate through STARTTLS (tls_mode
            # STARTTLS) and its subject equals its issuer.
            ("MT302", SMTP),
            ("MT302", POP3),
            ("MT302", IMAP),
            # MT120 (host rule, finding carries the port): POP3 and IMAP are client-facing and
            # reach TLS only through STARTTLS, with no 995/993 open. Port 25 is exempt
            # (server-to-server mail has only STARTTLS).
            ("MT120", POP3),
            ("MT120", IMAP),
            # Not MT101-MT104: TLS works on every port. Not MT105: the handshake succeeds.
            # Not MT111/MT112/MT113: before TLS, CAPA has no USER or SASL, IMAP says
            # LOGINDISABLED, EHLO has no AUTH (all three appear only inside TLS).
            # Not MT201-MT204: TLS 1.2 and 1.3 only, ECDHE with AEAD suites and an RSA-2048
            # certificate, which nmap grades A; the key exchange is X25519 (253 bits).
            # Not MT301/MT306: valid from yesterday for a year. Not MT303/MT304: RSA 2048, SHA-256.
            # Not MT305: it checks names only when the scan was given a host name; the fleet
            # is scanned by address (nmap -n), so there is no name to compare.
        }
    ),
    # Nothing open, nothing to report.
    Kind.CLOSED: frozenset(),
    # Port 25 as on a plaintext host; 110 and 143 are closed.
    Kind.SMTP_ONLY: frozenset({("MT103", SMTP)}),
    # A 2 s greeting is inside every timeout nmap's scripts use, so nmap sees a plaintext host.
    Kind.SLOW: _PLAINTEXT_FINDINGS,
    # Left empty on purpose: nmap learns nothing about these ports, and what mailtls
    # reports for them (an "inconclusive" state) is decided elsewhere. The tests skip them.
    Kind.SILENT: frozenset(),
}


@dataclass(frozen=True)
class FleetHost:
    """One simulated host: where it is, how it behaves, and what mailtls must find there."""

    index: int
    address: str
    kind: Kind
    #: The ports that accept connections (every other port is closed).
    ports: tuple[int, ...]
    #: (rule id, port) pairs mailtls should report for this host.
    expected: frozenset[tuple[str, int]]


def address_of(index: int) -> str:
    """Host ``index``'s address: 127.100.{index // 250}.{index % 250 + 1}."""
    if not 0 <= index < MAX_HOSTS:
        raise ValueError(f"host index must be in 0..{MAX_HOSTS - 1}, got {index}")
    return f"127.100.{index // HOSTS_PER_BLOCK}.{index % HOSTS_PER_BLOCK + 1}"


def kind_of(index: int) -> Kind:
    """Host ``index``'s behaviour: ``_PATTERN[index % 16]``, except that one host in 64 is
    slow and one in 1,024 silent."""
    if index % _SILENT_EVERY == _SILENT_SLOT:
        return Kind.SILENT
    if index % _SLOW_EVERY == _SLOW_SLOT:
        return Kind.SLOW
    return _PATTERN[index % len(_PATTERN)]


def hosts(n: int = DEFAULT_HOSTS) -> list[FleetHost]:
    """The first ``n`` fleet hosts. Pure: the same list for the same ``n``, no I/O."""
    if not 1 <= n <= MAX_HOSTS:
        raise ValueError(f"a fleet has 1 to {MAX_HOSTS} hosts, got {n}")
    return [_host(i) for i in range(n)]


def _host(index: int) -> FleetHost:
    kind = kind_of(index)
    return FleetHost(index=index, address=address_of(index), kind=kind, ports=_PORTS[kind], expected=_EXPECTED[kind])


def nmap_command(addresses: Iterable[str], xml_path: str | os.PathLike[str]) -> list[str]:
    """One nmap run over fleet hosts with mailtls's options and scripts (no -sV, no DNS, no
    ping), the hosts on the command line."""
    from mailtls.scan.options import ScanOptions
    from mailtls.scan.runner import NmapJob, nmap_arguments
    from mailtls.scan.targets import parse_target

    targets = [parse_target(a) for a in addresses]
    job = NmapJob(tuple(targets), ScanOptions())
    return ["nmap", "-oX", os.fspath(xml_path), *nmap_arguments(job), *(t.value for t in targets)]


# -- the running fleet, seen from the process that started it -------------------------------


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
    project = Path(__file__).resolve().parent.parent
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
    while _READY not in fleet.log_tail(5):
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


# -- the server -------------------------------------------------------------------------------


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed RSA-2048 certificate signed with SHA-256, valid from yesterday for a
    year, written as ``fleet.crt`` / ``fleet.key`` (PEM) into ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "fleet.mailtls.test"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mailtls fleet"),
        ]
    )
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("fleet.mailtls.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    crt_path, key_path = directory / "fleet.crt", directory / "fleet.key"
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return crt_path, key_path


def tls_context(certificate: Path, key: Path) -> ssl.SSLContext:
    """TLS 1.2 and 1.3 only; for 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305 (every
    TLS 1.3 suite is ECDHE/AEAD already)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305")
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(certificate, key)
    return context


class _Session(asyncio.Protocol):
    """One client connection: a greeting, then one reply per command line.

    A plain ``asyncio.Protocol`` rather than streams: no task per connection, which
    matters when ssl-enum-ciphers opens dozens of connections per port. Commands are
    handled only after the greeting went out; bytes that arrive with a STARTTLS command
    are dropped (no plaintext command may survive the upgrade: CVE-2011-0411).
    """

    def __init__(self, host: FleetHost, tls: ssl.SSLContext | None, tasks: set[asyncio.Task[None]]):
        self.host = host
        self.name = f"host{host.index}.fleet.mailtls.test"
        self.tls_context = tls  # None: this server offers no STARTTLS
        self.tasks = tasks
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.greeted = False
        self.upgrading = False
        self.secure = False
        self.errors = 0
        self.timer: asyncio.TimerHandle | None = None

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._arm(IDLE_TIMEOUT)
        delay = SLOW_GREETING if self.host.kind is Kind.SLOW else 0.0
        if delay:
            asyncio.get_running_loop().call_later(delay, self._greet)
        else:
            self._greet()

    def data_received(self, data: bytes) -> None:
        if not self.greeted:
            # A client that talks before the greeting is not waiting for one: hang up, as
            # Postfix's postscreen does (its "pregreet" test). On a slow host this is what
            # ends nmap's direct TLS attempts on these plaintext ports at once, instead of
            # after the delay.
            self.send(self.pregreet())
            self.close()
            return
        self._arm(IDLE_TIMEOUT)
        self.buffer += data
        self._process()

    def eof_received(self) -> bool | None:
        self.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.transport = None

    # what the protocols use

    def greeting(self) -> str:
        raise NotImplementedError

    def command(self, line: str) -> None:
        raise NotImplementedError

    def too_long(self) -> str:
        raise NotImplementedError

    def pregreet(self) -> str:
        raise NotImplementedError

    def idle_message(self) -> str:
        raise NotImplementedError

    def send(self, *lines: str) -> None:
        """One write per reply: nmap reads a reply with a single receive_lines(1), so a
        multi-line reply split over two segments would be read as two replies."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write("".join(f"{line}\r\n" for line in lines).encode("utf-8"))

    def error(self, *lines: str) -> None:
        self.send(*lines)
        self.errors += 1
        if self.errors >= MAX_ERRORS:
            self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def start_tls(self) -> None:
        """Upgrade after the "go ahead" reply has been sent (call right after ``send``)."""
        assert self.tls_context is not None and self.transport is not None
        self.upgrading = True
        self.buffer.clear()
        # Read nothing more until loop.start_tls has put the TLS layer in place (it
        # resumes reading itself): the client's ClientHello must go to TLS, not to us.
        self.transport.pause_reading()
        task = asyncio.get_running_loop().create_task(self._upgrade(self.transport, self.tls_context))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # internals

    def _greet(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.send(self.greeting())
        self.greeted = True
        self._process()

    def _process(self) -> None:
        while self.greeted and not self.upgrading and self.transport is not None and not self.transport.is_closing():
            end = self.buffer.find(b"\n")
            if end < 0 or end >= MAX_LINE:
                if end >= MAX_LINE or len(self.buffer) >= MAX_LINE:
                    self.send(self.too_long())
                    self.close()
                return
            line = bytes(self.buffer[:end]).rstrip(b"\r").decode("utf-8", "replace")
            del self.buffer[: end + 1]
            self.command(line)

    async def _upgrade(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        try:
            secure = await loop.start_tls(raw, self, context, server_side=True, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        except (OSError, EOFError, asyncio.TimeoutError):  # ssl.SSLError and resets are OSErrors
            # ssl-enum-ciphers hangs up after the ServerHello on purpose: not worth a word.
            raw.abort()
            self.connection_lost(None)
            return
        if secure is None:  # the connection went away during the handshake
            raw.abort()
            self.connection_lost(None)
            return
        self.transport = secure
        self.secure = True
        self.upgrading = False
        self._arm(IDLE_TIMEOUT)
        self._process()

    def _arm(self, seconds: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _expire(self) -> None:
        self.timer = None
        if self.transport is not None:
            self.send(self.idle_message())
            self.transport.close()


class _Smtp(_Session):
    """RFC 5321 just enough for nmap: EHLO, HELO, HELP, STARTTLS (RFC 3207), RSET, NOOP, QUIT."""

    def greeting(self) -> str:
        return f"220 {self.name} ESMTP mailtls fleet"

    def too_long(self) -> str:
        return "500 5.5.2 Error: line too long"

    def pregreet(self) -> str:
        return "521 5.5.1 Protocol error: talking before the greeting"

    def idle_message(self) -> str:
        return "421 4.4.2 Error: timeout exceeded"

    def _keywords(self) -> list[str]:
        keywords = ["PIPELINING", "SIZE 10240000"]
        if self.tls_context is not None and not self.secure:
            keywords.append("STARTTLS")
        if self.secure:
            keywords.append("AUTH PLAIN LOGIN")  # logins only inside TLS
        return [*keywords, "ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8"]

    def _commands(self) -> str:
        offered = [
            "HELO",
            "EHLO",
            "STARTTLS" if self.tls_context and not self.secure else "",
            "RSET",
            "NOOP",
            "HELP",
            "QUIT",
        ]
        return " ".join(c for c in offered if c)

    def command(self, line: str) -> None:
        verb, _, argument = line.strip().partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            if not argument.strip():
                self.error("501 5.5.4 Syntax: EHLO hostname")
                return
            lines = [self.name, *self._keywords()]
            self.send(*(f"250-{text}" for text in lines[:-1]), f"250 {lines[-1]}")
        elif verb == "HELO":
            if not argument.strip():
                self.error("501 5.5.4 Syntax: HELO hostname")
            else:
                self.send(f"250 {self.name}")
        elif verb == "HELP":
            self.send(f"214 2.0.0 Commands: {self._commands()}")
        elif verb in ("RSET", "NOOP"):
            self.send("250 2.0.0 Ok")
        elif verb == "QUIT":
            self.send("221 2.0.0 Bye")
            self.close()
        elif verb == "STARTTLS" and self.tls_context is not None:
            if self.secure:
                self.error("503 5.5.1 Error: TLS already active")
            elif argument:
                self.error("501 5.5.4 Syntax: STARTTLS")
            else:
                self.send("220 2.0.0 Ready to start TLS")
                self.start_tls()
        elif verb == "AUTH" and self.secure:
            self.error("535 5.7.8 Error: authentication failed")
        else:
            self.error("502 5.5.2 Error: command not recognized")


class _Pop3(_Session):
    """RFC 1939 / 2449 / 2595 just enough for nmap: CAPA, STLS, USER, PASS, NOOP, QUIT."""

    def greeting(self) -> str:
        return "+OK mailtls fleet POP3 ready"  # no <...>: nmap would read it as APOP

    def too_long(self) -> str:
        return "-ERR line too long"

    def pregreet(self) -> str:
        return "-ERR Protocol error: talking before the greeting"

    def idle_message(self) -> str:
        return "-ERR Disconnected for inactivity"

    def _plaintext_login(self) -> bool:
        return self.secure or self.tls_context is None

    def command(self, line: str) -> None:
        verb = line.strip().partition(" ")[0].upper()
        if verb == "CAPA":
            # No "." anywhere but the terminator: pop3.lua reads up to the first dot it sees.
            caps = ["TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]
            if self.tls_context is not None and not self.secure:
                caps.append("STLS")
            if self._plaintext_login():
                caps.append("USER")
            if self.secure:
                caps.append("SASL PLAIN")
            self.send("+OK Capability list follows", *caps, ".")
        elif verb == "STLS" and self.tls_context is not None:
            if self.secure:
                self.error("-ERR TLS already active")
            else:
                self.send("+OK Begin TLS negotiation now")
                self.start_tls()
        elif verb == "USER":
            if self._plaintext_login():
                self.send("+OK")
            else:
                self.error("-ERR [AUTH] Plaintext authentication disallowed on non-secure connections")
        elif verb in ("PASS", "AUTH"):
            self.error("-ERR [AUTH] Authentication failed")
        elif verb == "NOOP":
            self.send("+OK")
        elif verb == "QUIT":
            self.send("+OK Logging out")
            self.close()
        else:
            self.error("-ERR Unknown command")


class _Imap(_Session):
    """RFC 3501 just enough for nmap: CAPABILITY, STARTTLS, NOOP, LOGOUT (LOGIN always fails)."""

    def greeting(self) -> str:
        return "* OK mailtls fleet IMAP4rev1 ready"

    def too_long(self) -> str:
        return "* BYE line too long"

    def pregreet(self) -> str:
        return "* BYE Protocol error: talking before the greeting"

    def idle_message(self) -> str:
        return "* BYE Disconnected for inactivity"

    def _capabilities(self) -> str:
        caps = ["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "IDLE"]
        if self.tls_context is not None and not self.secure:
            caps += ["STARTTLS", "LOGINDISABLED"]
        else:
            caps.append("AUTH=PLAIN")
        return " ".join(caps)

    def command(self, line: str) -> None:
        parts = line.strip().split(" ", 2)
        if len(parts) < 2 or not parts[0].isprintable():
            self.error("* BAD Error in IMAP command received by server")
            return
        tag, verb = parts[0], parts[1].upper()
        if verb == "CAPABILITY":
            self.send(f"* CAPABILITY {self._capabilities()}", f"{tag} OK Capability completed")
        elif verb == "NOOP":
            self.send(f"{tag} OK NOOP completed")
        elif verb == "LOGOUT":
            self.send("* BYE Logging out", f"{tag} OK Logout completed")
            self.close()
        elif verb == "STARTTLS" and self.tls_context is not None:
            if self.secure:
                self.error(f"{tag} BAD TLS is already active")
            else:
                self.send(f"{tag} OK Begin TLS negotiation now")
                self.start_tls()
        elif verb in ("LOGIN", "AUTHENTICATE"):
            if self.tls_context is not None and not self.secure:
                self.error(f"{tag} NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections")
            else:
                self.error(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed")
        else:
            self.error(f"{tag} BAD Error in IMAP command: Unknown command")


class _Silent(asyncio.Protocol):
    """Accepts, reads and drops what comes, never answers; hangs up after SILENT_HOLD seconds."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.timer = asyncio.get_running_loop().call_later(SILENT_HOLD, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.timer.cancel()


_SESSIONS: dict[int, type[_Session]] = {SMTP: _Smtp, POP3: _Pop3, IMAP: _Imap}


def _factory(
    host: FleetHost, port: int, context: ssl.SSLContext, tasks: set[asyncio.Task[None]]
) -> Callable[[], asyncio.Protocol]:
    if host.kind is Kind.SILENT:
        return _Silent
    session = _SESSIONS[port]
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
    print(f"{_READY} {n} hosts, {len(servers)} listening sockets, pid {os.getpid()}", flush=True)
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lab.fleet", description="A simulated fleet of mail hosts on loopback."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="answer SMTP, POP3 and IMAP on every fleet address until stopped")
    run.add_argument("--hosts", type=int, default=DEFAULT_HOSTS)
    run.add_argument("--workdir", default=os.environ.get("MAILTLS_FLEET_DIR") or DEFAULT_WORKDIR)
    run.add_argument("--exit-with-parent", action="store_true", help="exit when the starting process is gone")
    expected = commands.add_parser("expected", help="print each host's kind, open ports and expected findings")
    expected.add_argument("--hosts", type=int, default=DEFAULT_HOSTS)
    addresses = commands.add_parser("addresses", help="print one address a line (for nmap -iL)")
    addresses.add_argument("--hosts", type=int, default=DEFAULT_HOSTS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        try:
            asyncio.run(serve(args.hosts, Path(args.workdir), exit_with_parent=args.exit_with_parent))
        except FleetError as exc:
            print(f"fleet: {exc}", file=sys.stderr)
            return 1
    elif args.command == "expected":
        for host in hosts(args.hosts):
            findings = " ".join(f"{rule}@{port}" for rule, port in sorted(host.expected, key=lambda f: (f[1], f[0])))
            ports = ",".join(map(str, host.ports)) or "-"
            print(f"{host.index}\t{host.address}\t{host.kind.value}\t{ports}\t{findings or '-'}")
    else:
        print("\n".join(h.address for h in hosts(args.hosts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
